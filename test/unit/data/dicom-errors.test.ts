// DICOM refusals and patient data: each bad file gives one plain message of the right kind,
// sizes are checked before anything is allocated, and no patient value ever leaves the decoder.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import {
  DicomWithoutImage,
  decodeDicom,
  ensureDicomCodecs,
} from '../../../src-main/data/dicom/index';
import {
  ensureWriterCodecs,
  LOSSLESS_SYNTAXES,
  writeDicom,
  type DicomSpec,
  type PatientFields,
  type WriterSyntax,
} from '../../helpers/dicom-writer';

const MAX = 64 * 1024 * 1024;
const OPTIONS = { windowing: 'file' as const, maxPixels: MAX };

before(async () => {
  await ensureDicomCodecs();
  await ensureWriterCodecs();
});

/** Distinctive values, so that finding any of them anywhere is a leak. */
const PATIENT: Required<PatientFields> = {
  name: 'Quimbleton^Zephyrine',
  id: 'PID-X7731-QQ',
  birthDate: '19310417',
  sex: 'F',
  age: '093Y',
  address: '17 Marigold Lane Kettlewick',
  otherIds: 'ALT-55871-ZZ',
  institution: 'Saint Wenceslas Infirmary',
  referringPhysician: 'Drumwhistle^Obadiah',
  accessionNumber: 'ACC-90210-KX',
  studyDate: '20240229',
  studyTime: '134507',
  seriesDate: '20240301',
  operators: 'Fennimore^Ludovica',
  deviceSerial: 'SN-GX-4471-B',
  studyId: 'STUDY-8812',
};
/** Pieces of the values too (family names, parts of IDs). */
const NEEDLES = [
  ...Object.values(PATIENT).filter((v) => v.length > 3),
  'Quimbleton',
  'Zephyrine',
  'Drumwhistle',
  'Fennimore',
  'X7731',
  '90210',
  'Marigold',
  'Wenceslas',
  '4471',
];

function image(rows = 12, columns = 10): Uint16Array {
  return Uint16Array.from({ length: rows * columns }, (_, i) => (i * 97) % 4096);
}

function base(transferSyntax: WriterSyntax, extra: Partial<DicomSpec> = {}): DicomSpec {
  return {
    rows: 12,
    columns: 10,
    frames: [image()],
    transferSyntax,
    bitsStored: 12,
    patient: PATIENT,
    ...extra,
  };
}

/** The UserError thrown by decoding, checked for its code, words, and that it names no patient value. */
function refusal(bytes: Uint8Array, code: string, ...words: string[]): UserError {
  let caught: unknown;
  try {
    decodeDicom(bytes, 'scans/case-7.dcm', OPTIONS);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof UserError, `expected a UserError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.ok(caught.message.includes('scans/case-7.dcm'), `names the file: ${caught.message}`);
  for (const w of words)
    assert.ok(caught.message.includes(w), `"${caught.message}" should say "${w}"`);
  assertNoPatientData(`${caught.message} ${caught.stack ?? ''} ${JSON.stringify(caught)}`);
  return caught;
}

function assertNoPatientData(text: string): void {
  for (const needle of NEEDLES)
    assert.ok(!text.includes(needle), `leaked "${needle}" in: ${text.slice(0, 300)}`);
}

test('bytes that are not DICOM are refused as corrupt', () => {
  refusal(new Uint8Array(2000).fill(0x41), 'CORRUPT_DATA', 'not a DICOM file', 'DICM');
  refusal(new Uint8Array(10), 'CORRUPT_DATA', 'not a DICOM file');
  // a DICOM file whose data set is garbage after the marker
  const bytes = writeDicom(base('explicit-le'));
  const damaged = bytes.slice(0, 140);
  damaged.fill(0xff, 132);
  refusal(damaged, 'CORRUPT_DATA', 'damaged');
});

test('a structured report, a DICOMDIR and an unknown object without pixel data are DicomWithoutImage', () => {
  const sr = refusal(
    writeDicom(
      base('explicit-le', { omitPixelData: true, sopClassUid: '1.2.840.10008.5.1.4.1.1.88.22' }),
    ),
    'UNSUPPORTED',
    'a structured report',
    'holds no image',
  );
  assert.ok(sr instanceof DicomWithoutImage);
  const dir = refusal(
    writeDicom(base('explicit-le', { omitPixelData: true, sopClassUid: '1.2.840.10008.1.3.10' })),
    'UNSUPPORTED',
    'a DICOMDIR directory',
  );
  assert.ok(dir instanceof DicomWithoutImage);
  const other = refusal(
    writeDicom(base('implicit-le', { omitPixelData: true, sopClassUid: '1.2.3.4.5' })),
    'UNSUPPORTED',
    'holds no image',
  );
  assert.ok(other instanceof DicomWithoutImage);
});

test('an unsupported transfer syntax is named in words and by UID, with what to do', () => {
  const e = refusal(
    writeDicom(base('jpeg-lossless', { transferSyntaxUid: '1.2.840.10008.1.2.4.51' })),
    'UNSUPPORTED',
    'JPEG extended (12-bit)',
    '1.2.840.10008.1.2.4.51',
    'explicit VR little endian',
  );
  assert.ok(!(e instanceof DicomWithoutImage));
  refusal(
    writeDicom(base('jpeg-lossless', { transferSyntaxUid: '1.2.840.10008.1.2.4.102' })),
    'UNSUPPORTED',
    'MPEG-4',
  );
  refusal(
    writeDicom(base('jpeg-lossless', { transferSyntaxUid: '1.2.3.999' })),
    'UNSUPPORTED',
    'a private transfer syntax',
  );
});

test('truncated native pixel data says how many bytes were expected and found', () => {
  for (const ts of ['explicit-le', 'implicit-le', 'explicit-be'] as WriterSyntax[]) {
    const bytes = writeDicom(base(ts));
    refusal(
      bytes.subarray(0, bytes.length - 100),
      'CORRUPT_DATA',
      'the pixel data is truncated (expected 240 bytes, found 140)',
    );
  }
  // a deflated file cut short does not inflate
  const d = writeDicom(base('deflated'));
  refusal(d.subarray(0, d.length - 50), 'CORRUPT_DATA', 'deflated');
});

test('truncated or damaged compressed pixel data is refused as corrupt', () => {
  for (const ts of [
    'rle',
    'jpeg-lossless',
    'jpeg-ls',
    'j2k-lossless',
    'jpeg-baseline',
  ] as WriterSyntax[]) {
    const spec =
      ts === 'jpeg-baseline'
        ? base(ts, { bitsAllocated: 8, bitsStored: 8, frames: [new Uint8Array(120).fill(90)] })
        : base(ts);
    const bytes = writeDicom(spec);
    refusal(bytes.subarray(0, bytes.length - 30), 'CORRUPT_DATA', 'truncated');
  }
  // a JPEG-LS codestream with damaged entropy-coded data
  const ls = writeDicom(base('jpeg-ls', { rows: 64, columns: 64, frames: [image(64, 64)] }));
  const damaged = ls.slice();
  for (let i = damaged.length - 400; i < damaged.length - 100; i++) damaged[i] = 0xff;
  refusal(damaged, 'CORRUPT_DATA', 'cannot be decoded', 'JPEG-LS');
  // RLE whose segments decode to too few bytes
  const rle = writeDicom(base('rle'));
  const short = rle.slice();
  // the first fragment's RLE header: claim one segment where two are needed (16-bit)
  const at = findRleHeader(short);
  short[at] = 1;
  refusal(short, 'CORRUPT_DATA', 'segments');
});

/** Offset of the RLE header (segment count 2, first offset 64) in a file. */
function findRleHeader(b: Uint8Array): number {
  for (let i = 0; i + 8 < b.length; i++) {
    if (
      b[i] === 2 &&
      b[i + 1] === 0 &&
      b[i + 2] === 0 &&
      b[i + 3] === 0 &&
      b[i + 4] === 64 &&
      b[i + 5] === 0
    )
      return i;
  }
  throw new Error('no RLE header');
}

test('a header claiming 60000×60000 pixels × 1000 frames is refused before anything is allocated', () => {
  const e = refusal(
    writeDicom(base('explicit-le', { claim: { rows: 60000, columns: 60000, frames: 1000 } })),
    'UNSUPPORTED',
    '60000×60000 pixels × 1000 frame(s)',
    'megapixels',
  );
  assert.ok(!(e instanceof RangeError));
  // compressed: the same
  refusal(
    writeDicom(base('jpeg-ls', { claim: { rows: 60000, columns: 60000, frames: 1000 } })),
    'UNSUPPORTED',
    'megapixels',
  );
  // within the limit but more than the file holds: the length check refuses it before allocating
  refusal(
    writeDicom(base('explicit-le', { claim: { rows: 4000, columns: 4000, frames: 4 } })),
    'CORRUPT_DATA',
    'expected 128000000 bytes, found 240',
  );
  // a codestream that does not match the header's size
  refusal(
    writeDicom(base('j2k-lossless', { claim: { rows: 4000, columns: 4000 } })),
    'CORRUPT_DATA',
    '10×12 pixels',
  );
  // more frames claimed than the compressed data holds
  refusal(
    writeDicom(base('jpeg-lossless', { claim: { frames: 3 } })),
    'CORRUPT_DATA',
    'says 3 frames',
  );
});

test('the header summary holds only allow-listed values and no patient value appears anywhere', () => {
  for (const ts of LOSSLESS_SYNTAXES) {
    const d = decodeDicom(writeDicom(base(ts, { modality: 'CT' })), 'scans/case-7.dcm', OPTIONS);
    assert.deepEqual(Object.keys(d).sort(), ['frames', 'header', 'patientFields']);
    assert.deepEqual(Object.keys(d.header).sort(), [
      'bitsAllocated',
      'bitsStored',
      'columns',
      'frames',
      'modality',
      'photometric',
      'rows',
      'samplesPerPixel',
      'transferSyntax',
      'transferSyntaxUid',
    ]);
    assert.equal(d.header.modality, 'CT');
    assert.deepEqual(
      [d.header.rows, d.header.columns, d.header.frames, d.header.bitsStored],
      [12, 10, 1, 12],
    );
    assert.deepEqual(Object.keys(d.frames[0]!).sort(), ['channels', 'data', 'height', 'width']);
    assertNoPatientData(JSON.stringify({ header: d.header, patientFields: d.patientFields }));
    assertNoPatientData(Buffer.from(d.frames[0]!.data).toString('latin1'));
  }
});

test('patientFields counts the identifying fields present with a value', () => {
  const all = decodeDicom(writeDicom(base('explicit-le')), 'a.dcm', OPTIONS);
  assert.equal(all.patientFields, Object.keys(PATIENT).length);
  const none = decodeDicom(writeDicom(base('explicit-le', { patient: {} })), 'b.dcm', OPTIONS);
  assert.equal(none.patientFields, 0);
  // empty values (present but blank) are not counted
  const some = decodeDicom(
    writeDicom(
      base('implicit-le', {
        patient: { name: 'Doe^Jane', id: '', birthDate: '        ', institution: 'X' },
      }),
    ),
    'c.dcm',
    OPTIONS,
  );
  assert.equal(some.patientFields, 2);
});
