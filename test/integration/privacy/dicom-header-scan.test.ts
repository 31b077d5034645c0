/**
 * A DICOM header's patient data never reaches the data folder or anything
 * exported (docs/import.md): DICOM files whose headers carry distinctive
 * patient values are imported, trained on and released through every way
 * out; every byte of the data folder (database and its journal included),
 * the release and the export is scanned for those values.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureWriterCodecs, writeDicom } from '../../helpers/dicom-writer';
import type { PatientFields, WriterSyntax } from '../../helpers/dicom-writer';
import { runCliCaptured as dp2 } from '../../support/run-cli';
import { tempDir } from '../../support/temp';

const PATIENT: Required<PatientFields> = {
  name: 'QUIMBY^HORTENSE^A',
  id: 'MRN-83620417',
  birthDate: '19370412',
  sex: 'F',
  age: '088Y',
  address: '14 Larkspur Row, Ashby',
  otherIds: 'NHS-5550912',
  institution: 'St Zephyrin Infirmary',
  referringPhysician: 'VOSS^OTTO^DR',
  accessionNumber: 'ACC7712093',
  studyDate: '20251103',
  studyTime: '141522',
  seriesDate: '20251104',
  operators: 'TECH^MARGIT',
  deviceSerial: 'SN-XK4419-77',
  studyId: 'STUDY-66120',
};

/** The values worth searching for: the single-letter sex and the time are too common in any file. */
const NEEDLES = Object.entries(PATIENT)
  .filter(([k]) => k !== 'sex' && k !== 'studyTime')
  .flatMap(([k, v]) => [
    { what: k, value: v },
    ...v
      .split('^')
      .filter((part) => part.length > 3 && part !== v)
      .map((part) => ({ what: `${k} component`, value: part })),
  ]);

/**
 * Files that hold float arrays or compressed data: their bytes are close to
 * random, where a 4-byte needle turns up by chance (a checkpoint once held
 * the bytes of '088Y': Adam's small moments have ASCII digits for their
 * top byte). There, needles of fewer than 6 bytes are not searched; the
 * longer ones, and every needle in UTF-16, are.
 */
const BINARY = /\.(ckpt|npy|npz|bin|png)$/;
const SHORTEST_IN_BINARY = 6;

function filesUnder(path: string): string[] {
  if (statSync(path).isDirectory())
    return readdirSync(path).flatMap((name) => filesUnder(join(path, name)));
  return [path];
}

test(
  'no patient value of a DICOM header reaches the data folder, a release or an export',
  { timeout: 400_000 },
  async () => {
    await ensureWriterCodecs();
    const tmp = tempDir();
    const source = join(tmp.path, 'scans');
    const syntaxes: WriterSyntax[] = ['explicit-le', 'jpeg-ls', 'rle', 'jpeg-lossless'];
    for (const [label, cls] of ['normal', 'effusion'].entries()) {
      mkdirSync(join(source, cls), { recursive: true });
      for (let i = 0; i < 24; i++) {
        const px = new Uint16Array(40 * 40);
        for (let p = 0; p < px.length; p++)
          px[p] = ((p % 40) * 50 + Math.floor(p / 40) * (20 + label * 30) + i * 7) % 4096;
        writeFileSync(
          join(source, cls, `IM${i}`),
          writeDicom({
            rows: 40,
            columns: 40,
            frames: [px],
            transferSyntax: syntaxes[i % syntaxes.length]!,
            bitsStored: 12,
            windowCenter: 2048,
            windowWidth: 4096,
            modality: 'CR',
            patient: PATIENT,
          }),
        );
      }
    }
    // The files do carry the values (else the scan below proves nothing).
    const one = readFileSync(join(source, 'normal', 'IM0'));
    for (const n of NEEDLES) assert.ok(one.includes(n.value), `the test file lacks ${n.what}`);

    const home = join(tmp.path, 'home');
    const env = { DP2_HOME: home };
    const preview = await dp2(['import', source, '--name', 'ward', '--preview'], { env });
    assert.equal(preview.status, 0, preview.stderr);
    assert.match(preview.stdout, /48 file\(s\) carried patient fields .*dropped/);
    const imported = await dp2(['import', source, '--name', 'ward', '--size', '28'], { env });
    assert.equal(imported.status, 0, imported.stderr);
    const release = join(tmp.path, 'release');
    const trained = await dp2(
      ['train', '--dataset', 'ward', '--method', 'dpsgd', '--epsilon', '5', '--batch', '16'].concat(
        ['--steps', '6', '--seed', '3', '--out', release, '--json'],
      ),
      { env },
    );
    assert.equal(trained.status, 0, trained.stderr);
    const runId = (JSON.parse(trained.stdout) as { runId: number }).runId;
    const exportDir = join(tmp.path, 'export');
    const exported = await dp2(
      ['export', '--run', String(runId), '--out', exportDir, '--samples-png', '--per-class', '4'],
      { env },
    );
    assert.equal(exported.status, 0, exported.stderr);
    const shown = await dp2(['datasets', 'show', 'ward', '--json'], { env });
    const ledger = await dp2(['ledger', '--dataset', 'ward', '--json'], { env });

    const files = [home, release, exportDir].flatMap(filesUnder);
    assert.ok(
      files.some((f) => f.endsWith('dp2.sqlite')),
      files.join('\n'),
    );
    const outputs = [
      { name: 'dp2 import --preview', bytes: Buffer.from(preview.stdout + preview.stderr) },
      { name: 'dp2 import', bytes: Buffer.from(imported.stdout + imported.stderr) },
      { name: 'dp2 train', bytes: Buffer.from(trained.stdout + trained.stderr) },
      { name: 'dp2 export', bytes: Buffer.from(exported.stdout + exported.stderr) },
      { name: 'dp2 datasets show', bytes: Buffer.from(shown.stdout) },
      { name: 'dp2 ledger', bytes: Buffer.from(ledger.stdout) },
      ...files.map((f) => ({ name: f, bytes: readFileSync(f) })),
    ];
    for (const { name, bytes } of outputs) {
      for (const n of NEEDLES) {
        for (const encoding of ['utf8', 'utf16le', 'latin1'] as const) {
          const needle = Buffer.from(n.value, encoding);
          if (BINARY.test(name) && needle.length < SHORTEST_IN_BINARY) continue;
          assert.ok(!bytes.includes(needle), `${name} holds the patient's ${n.what} (${encoding})`);
        }
      }
    }
  },
);
