/**
 * Reads what the pixel pipeline needs from a parsed data set, and counts the
 * identifying fields present without keeping any of their values.
 */
import type { DataSet, Element } from 'dicom-parser';

/** A lookup table (Modality LUT, VOI LUT or one palette channel). */
export interface Lut {
  /** The stored value (or modality value) mapped by entry 0. */
  first: number;
  bits: number;
  data: Uint16Array;
}

/** The values of the header that decoding uses (never returned to the caller as such). */
export interface ImageHeader {
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: number;
  planarConfiguration: number;
  photometric: string;
  modality: string | null;
  sopClassUid: string | undefined;
  rescaleSlope: number;
  rescaleIntercept: number;
  windowCenter: number | undefined;
  windowWidth: number | undefined;
  voiFunction: 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';
  voiLut: Lut | undefined;
  modalityLut: Lut | undefined;
}

/** A coded string value if it looks like one (upper-case letters, digits, space, underscore). */
function codeString(dataSet: DataSet, tag: string): string | null {
  const v = dataSet.string(tag)?.trim();
  return v && /^[A-Z0-9 _]{1,16}$/.test(v) ? v : null;
}

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : fallback;
}

/** Reads a LUT from a data set holding a LUT Descriptor and LUT Data (PS3.3 C.11.1). */
function readLut(dataSet: DataSet, descriptorTag: string, dataTag: string): Lut | undefined {
  const data = dataSet.elements[dataTag];
  if (!dataSet.elements[descriptorTag] || !data) return undefined;
  const entries = dataSet.uint16(descriptorTag, 0) || 65536;
  // The first mapped value is US or SS, following the pixel representation.
  const firstRaw = dataSet.uint16(descriptorTag, 1) ?? 0;
  const bits = dataSet.uint16(descriptorTag, 2) ?? 16;
  return { first: firstRaw, bits, data: readWords(dataSet, data, entries) };
}

/** LUT data: 16-bit words normally, bytes when the element is too short for words. */
function readWords(dataSet: DataSet, element: Element, entries: number): Uint16Array {
  const out = new Uint16Array(entries);
  const bytes = dataSet.byteArray;
  const available = Math.min(element.length, bytes.length - element.dataOffset);
  if (available >= entries * 2) {
    for (let i = 0; i < entries; i++) {
      out[i] = dataSet.byteArrayParser.readUint16(bytes, element.dataOffset + i * 2);
    }
  } else {
    for (let i = 0; i < Math.min(entries, available); i++)
      out[i] = bytes[element.dataOffset + i] ?? 0;
  }
  return out;
}

/** Reads the image attributes; missing optional ones take their DICOM defaults. */
export function readImageHeader(dataSet: DataSet): ImageHeader {
  const bitsAllocated = dataSet.uint16('x00280100') ?? 0;
  const bitsStored = dataSet.uint16('x00280101') ?? bitsAllocated;
  const photometric = (dataSet.string('x00280004') ?? '').trim().toUpperCase();
  const fn = codeString(dataSet, 'x00281056');
  const voiSequence = dataSet.elements['x00283010']?.items?.[0]?.dataSet;
  const modalitySequence = dataSet.elements['x00283000']?.items?.[0]?.dataSet;
  const center = dataSet.floatString('x00281050', 0);
  const width = dataSet.floatString('x00281051', 0);
  const sop = (dataSet.string('x00080016') ?? dataSet.string('x00020002'))
    ?.replace(/\0/g, '')
    .trim();
  return {
    rows: dataSet.uint16('x00280010') ?? 0,
    columns: dataSet.uint16('x00280011') ?? 0,
    frames: Math.max(1, Math.floor(positive(dataSet.intString('x00280008'), 1))),
    samplesPerPixel: dataSet.uint16('x00280002') ?? 1,
    bitsAllocated,
    bitsStored,
    highBit: dataSet.uint16('x00280102') ?? bitsStored - 1,
    pixelRepresentation: dataSet.uint16('x00280103') ?? 0,
    planarConfiguration: dataSet.uint16('x00280006') ?? 0,
    photometric: /^[A-Z0-9 _]{1,16}$/.test(photometric) ? photometric : '',
    modality: codeString(dataSet, 'x00080060'),
    sopClassUid: sop && /^[0-9.]{1,64}$/.test(sop) ? sop : undefined,
    rescaleSlope: (() => {
      const s = dataSet.floatString('x00281053');
      return s !== undefined && Number.isFinite(s) && s !== 0 ? s : 1;
    })(),
    rescaleIntercept: (() => {
      const i = dataSet.floatString('x00281052');
      return i !== undefined && Number.isFinite(i) ? i : 0;
    })(),
    windowCenter: center !== undefined && Number.isFinite(center) ? center : undefined,
    windowWidth: width !== undefined && Number.isFinite(width) && width > 0 ? width : undefined,
    voiFunction: fn === 'SIGMOID' || fn === 'LINEAR_EXACT' ? fn : 'LINEAR',
    voiLut: voiSequence ? readLut(voiSequence, 'x00283002', 'x00283006') : undefined,
    modalityLut: modalitySequence ? readLut(modalitySequence, 'x00283002', 'x00283006') : undefined,
  };
}

/** The three palette channels of a PALETTE COLOR image, or undefined when any is missing. */
export function readPalette(dataSet: DataSet): { r: Lut; g: Lut; b: Lut } | undefined {
  const r = readLut(dataSet, 'x00281101', 'x00281201');
  const g = readLut(dataSet, 'x00281102', 'x00281202');
  const b = readLut(dataSet, 'x00281103', 'x00281203');
  return r && g && b ? { r, g, b } : undefined;
}

/**
 * Identifying fields outside the patient group (0010,xxxx), which counts
 * whole: institution, physicians, operators, accession number, study and
 * series dates and times, station and device serial number, study ID, and
 * other people named in the header.
 */
const IDENTIFYING = new Set([
  'x00080012', // Instance Creation Date
  'x00080013', // Instance Creation Time
  'x00080020', // Study Date
  'x00080021', // Series Date
  'x00080022', // Acquisition Date
  'x00080023', // Content Date
  'x0008002a', // Acquisition DateTime
  'x00080030', // Study Time
  'x00080031', // Series Time
  'x00080032', // Acquisition Time
  'x00080033', // Content Time
  'x00080050', // Accession Number
  'x00080080', // Institution Name
  'x00080081', // Institution Address
  'x00080090', // Referring Physician's Name
  'x00080092', // Referring Physician's Address
  'x00080094', // Referring Physician's Telephone Numbers
  'x00081010', // Station Name
  'x00081040', // Institutional Department Name
  'x00081048', // Physician(s) of Record
  'x00081050', // Performing Physician's Name
  'x00081060', // Name of Physician(s) Reading Study
  'x00081070', // Operators' Name
  'x00081120', // Referenced Patient Sequence
  'x00181000', // Device Serial Number
  'x00200010', // Study ID
  'x00321032', // Requesting Physician
  'x00321060', // Requested Procedure Description
  'x00400244', // Performed Procedure Step Start Date
  'x00400245', // Performed Procedure Step Start Time
  'x00400253', // Performed Procedure Step ID
  'x00380010', // Admission ID
  'x00380300', // Current Patient Location
  'x00400006', // Scheduled Performing Physician's Name
  'x0040a123', // Person Name
  'x40080114', // Physician Approving Interpretation
]);

/** True when an element carries a value: not empty, not only padding. */
function hasValue(bytes: Uint8Array, element: Element): boolean {
  if (element.items) return element.items.length > 0;
  const end = Math.min(element.dataOffset + element.length, bytes.length);
  for (let i = element.dataOffset; i < end; i++) {
    const c = bytes[i];
    if (c !== 0x20 && c !== 0) return true;
  }
  return false;
}

/** Counts the identifying fields present with a value; nothing of them is kept. */
export function countPatientFields(dataSet: DataSet): number {
  let count = 0;
  for (const [tag, element] of Object.entries(dataSet.elements)) {
    const patientGroup = tag.startsWith('x0010') && tag !== 'x00100000';
    if ((patientGroup || IDENTIFYING.has(tag)) && hasValue(dataSet.byteArray, element)) count++;
  }
  return count;
}
