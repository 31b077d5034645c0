import type { DicomHeaderSummary } from './dicom';
import type { ProblemLog } from './problems';
import type { DicomSummary } from './types';

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function sorted(map: Map<string, number>): { name: string; count: number }[] {
  return [...map.entries()]
    .map(([name, count]) => ({ name, count }))
    .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : 1));
}

/**
 * Counts what the DICOM files of one import held, from their allow-listed
 * header summaries only: the preview shows it, nothing of it is stored.
 */
export class DicomTally {
  private files = 0;
  private frames = 0;
  private withPatientFields = 0;
  private readonly modalities = new Map<string, number>();
  private readonly syntaxes = new Map<string, number>();
  private readonly photometric = new Map<string, number>();

  /** Adds one decoded file. */
  add(header: DicomHeaderSummary, frames: number, patientFields: number): void {
    this.files++;
    this.frames += frames;
    if (patientFields > 0) this.withPatientFields++;
    increment(this.modalities, header.modality ?? 'not stated');
    increment(this.syntaxes, header.transferSyntax);
    increment(this.photometric, header.photometric);
  }

  /** The summary for the preview, or undefined when no DICOM file was read. */
  summary(): DicomSummary | undefined {
    if (this.files === 0) return undefined;
    return {
      files: this.files,
      frames: this.frames,
      withPatientFields: this.withPatientFields,
      modalities: sorted(this.modalities),
      transferSyntaxes: sorted(this.syntaxes),
      photometric: sorted(this.photometric),
    };
  }

  /**
   * Warns about what differs between the files in a way the analyst should
   * know: several modalities, or several photometric interpretations (all
   * are shown as a viewer shows them: MONOCHROME1 inverted, colour converted
   * to the chosen channels), and that identifying fields were dropped.
   */
  report(where: string, log: ProblemLog): void {
    const s = this.summary();
    if (!s) return;
    const list = (items: { name: string; count: number }[]): string =>
      items.map((m) => `${m.name} (${m.count})`).join(', ');
    if (s.modalities.length > 1) {
      log.warn(
        'dicom-modalities',
        where,
        `The DICOM files come from ${s.modalities.length} modalities: ${list(s.modalities)}.`,
        'No action needed if they belong in one data set; otherwise import each modality separately.',
      );
    }
    if (s.photometric.length > 1) {
      log.warn(
        'dicom-photometric',
        where,
        `The DICOM files store pixels in ${s.photometric.length} ways: ${list(s.photometric)}. All are shown as a viewer shows them (MONOCHROME1 inverted so that dense is bright; colour converted to the chosen channels).`,
        'No action needed.',
      );
    }
    if (s.withPatientFields > 0) {
      log.warn(
        'dicom-patient-fields',
        where,
        `${s.withPatientFields} of ${s.files} DICOM files carried patient or other identifying fields (names, IDs, dates). They were dropped: DP² Studio keeps only the pixels and the modality, size, bit depth, photometric interpretation and transfer syntax.`,
        'No action needed.',
      );
    }
  }
}
