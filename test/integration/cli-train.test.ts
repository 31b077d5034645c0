import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng, loadBundledMnist, readNpz } from '../../src-main/data';
import { epsilonOf } from '../../src-main/privacy';
import { certificateInWords, type AnyCertificate } from '../../src-main/privacy/certificate';
import { runCliCaptured as dp2 } from '../support/run-cli';
import { tempDir } from '../support/temp';

/** 30 MNIST digits per class as a class-per-folder PNG data set. */
function mnistFolder(root: string): string {
  const { train } = loadBundledMnist();
  const dir = join(root, 'digits');
  const seen = new Array<number>(10).fill(0);
  for (let i = 0; i < train.count && seen.some((n) => n < 30); i++) {
    const label = train.y[i] ?? 0;
    if ((seen[label] ?? 0) >= 30) continue;
    mkdirSync(join(dir, String(label)), { recursive: true });
    const data = train.x.subarray(i * 784, (i + 1) * 784);
    writeFileSync(
      join(dir, String(label), `${i}.png`),
      encodePng({ width: 28, height: 28, channels: 1, data }),
    );
    seen[label] = (seen[label] ?? 0) + 1;
  }
  return dir;
}

test(
  'dp2 train → runs → generate → export → ledger on a small data set',
  { timeout: 300_000 },
  async () => {
    const tmp = tempDir();
    const env = { DP2_HOME: join(tmp.path, 'home') };
    const imported = await dp2(
      ['import', mnistFolder(tmp.path), '--name', 'digits', '--test-fraction', '0.2'],
      { env },
    );
    assert.equal(imported.status, 0, imported.stderr);

    const out = join(tmp.path, 'release');
    const trained = await dp2(
      [
        'train',
        '--dataset',
        'digits',
        '--method',
        'dp2vae',
        '--epsilon',
        '5',
        '--blocks',
        '4',
        '--steps',
        '30',
        '--pretrain-epochs',
        '1',
        '--batch',
        '16',
        '--seed',
        '3',
        '--out',
        out,
        '--json',
      ],
      { env },
    );
    assert.equal(trained.status, 0, trained.stderr);
    const result = JSON.parse(trained.stdout) as {
      runId: number;
      status: string;
      steps: number;
      epsilon: number;
    };
    assert.equal(result.status, 'completed');
    assert.ok(result.epsilon <= 5, `ε ${result.epsilon} within the target`);
    assert.match(trained.stderr, /Stage 1/);
    assert.match(trained.stderr, /Stage 2/);

    // The release: decoder, samples, grid, certificate, and nothing private.
    const files = readdirSync(out).sort();
    assert.deepEqual(files, ['certificate.json', 'decoder', 'grid.png', 'samples.npz']);
    const cert = JSON.parse(readFileSync(join(out, 'certificate.json'), 'utf8')) as {
      blocks: number;
      sigma: number;
      steps: number;
      delta: number;
      epsilon: number;
      adjacency: string;
    };
    assert.equal(cert.adjacency, 'replace-one');
    assert.equal(cert.steps, result.steps);
    const recomputed = epsilonOf({
      spec: { mechanism: 'dp2vae', blocks: cert.blocks, sigma: cert.sigma, steps: cert.steps },
      delta: cert.delta,
    }).epsilon;
    assert.equal(cert.epsilon, recomputed, 'the certificate’s ε is the accountant’s');
    const npz = readNpz(readFileSync(join(out, 'samples.npz')), 'samples.npz');
    assert.ok(npz.x && npz.y && npz.classes, 'x, y and classes');

    const runs = await dp2(['runs', 'list', '--json'], { env });
    const listed = JSON.parse(runs.stdout) as { id: number; status: string; stepsPaid: number }[];
    assert.equal(listed[0]?.status, 'completed');
    assert.ok(
      (listed[0]?.stepsPaid ?? 0) >= result.steps,
      'every step taken was paid for in the ledger',
    );

    const samples = join(tmp.path, 'more', 'samples.npz');
    const generated = await dp2(
      ['generate', '--run', String(result.runId), '--per-class', '3', '--out', samples],
      { env },
    );
    assert.equal(generated.status, 0, generated.stderr);
    assert.ok(
      existsSync(join(tmp.path, 'more', 'certificate.json')),
      'the certificate travels with the samples',
    );
    const again = await dp2(
      ['generate', '--run', String(result.runId), '--per-class', '3', '--out', samples],
      { env },
    );
    assert.equal(again.status, 1, 'never overwrites');

    const exportDir = join(tmp.path, 'export');
    const exported = await dp2(
      ['export', '--run', String(result.runId), '--out', exportDir, '--samples-png'],
      { env },
    );
    assert.equal(exported.status, 0, exported.stderr);
    const exportedFiles = readdirSync(exportDir);
    assert.ok(
      !exportedFiles.some((f) => /encoder|checkpoint|train_x|dataset/.test(f)),
      exportedFiles.join(),
    );
    const twice = await dp2(['export', '--run', String(result.runId), '--out', exportDir], { env });
    assert.equal(twice.status, 1);

    const evaluated = await dp2(
      ['eval', '--run', String(result.runId), '--per-class', '20', '--seeds', '1', '--json'],
      { env },
    );
    assert.equal(evaluated.status, 0, evaluated.stderr);
    const scores = JSON.parse(evaluated.stdout) as Record<string, unknown>;
    // DESIGN.md's documented fields; the table, audit and stored id come beside them.
    for (const key of ['cnn', 'fld', 'lr', 'mlp', 'n_synthetic', 'n_test', 'seeds'])
      assert.ok(key in scores, `--json has "${key}"`);
    assert.equal(typeof scores.evaluationId, 'number', 'a run’s evaluation is stored');
    assert.equal(scores.n_synthetic, 200);
    assert.equal(scores.n_test, 60, 'judged on the data set’s own held-out split');

    const ledger = await dp2(['ledger', '--dataset', 'digits', '--json'], { env });
    const total = (JSON.parse(ledger.stdout) as { total: { epsilon: number; steps: number } })
      .total;
    assert.ok(total.steps >= result.steps);
    assert.ok(total.epsilon >= result.epsilon - 1e-9, 'the ledger covers the run');

    const over = await dp2(['datasets', 'cap', 'digits', '--epsilon', '6'], { env });
    assert.equal(over.status, 0, over.stderr);
    const refused = await dp2(
      [
        'train',
        '--dataset',
        'digits',
        '--method',
        'dp2vae',
        '--epsilon',
        '5',
        '--blocks',
        '4',
        '--steps',
        '30',
      ],
      { env },
    );
    assert.equal(refused.status, 1, 'a run that would pass the cap is refused before it starts');
    assert.match(refused.stderr, /cap|budget/i);
    tmp.cleanup();
  },
);

test(
  'dp2 train --method dpsgd writes decoder/, samples.npz, grid.png and a certificate naming the method',
  { timeout: 300_000 },
  async () => {
    const tmp = tempDir();
    const env = { DP2_HOME: join(tmp.path, 'home') };
    const imported = await dp2(
      ['import', mnistFolder(tmp.path), '--name', 'digits', '--test-fraction', '0.2'],
      { env },
    );
    assert.equal(imported.status, 0, imported.stderr);
    const misuse = await dp2(
      ['train', '--dataset', 'digits', '--method', 'dpsgd', '--epsilon', '5', '--blocks', '4'],
      { env },
    );
    assert.equal(misuse.status, 1, 'DP²-VAE-only settings are refused for DP-SGD');
    assert.match(misuse.stderr, /blocks/);

    const out = join(tmp.path, 'release');
    const trained = await dp2(
      [
        'train',
        '--dataset',
        'digits',
        '--method',
        'dpsgd',
        '--epsilon',
        '5',
        '--batch',
        '24',
        '--steps',
        '20',
        '--seed',
        '3',
        '--out',
        out,
        '--json',
      ],
      { env },
    );
    assert.equal(trained.status, 0, trained.stderr);
    const result = JSON.parse(trained.stdout) as {
      runId: number;
      status: string;
      steps: number;
      epsilon: number;
    };
    assert.equal(result.status, 'completed');
    assert.equal(result.steps, 20);
    assert.ok(result.epsilon <= 5, `ε ${result.epsilon} within the target`);
    assert.match(trained.stderr, /DP-SGD/);
    assert.doesNotMatch(trained.stderr, /Stage 1/);

    assert.deepEqual(readdirSync(out).sort(), [
      'certificate.json',
      'decoder',
      'grid.png',
      'samples.npz',
    ]);
    const cert = JSON.parse(readFileSync(join(out, 'certificate.json'), 'utf8')) as {
      method: string;
      mechanism: string;
      adjacency: string;
      sample_rate: number;
      sigma: number;
      steps: number;
      delta: number;
      epsilon: number;
    };
    assert.equal(cert.method, 'dpsgd');
    assert.match(cert.mechanism, /poisson/);
    assert.equal(cert.adjacency, 'add-remove');
    assert.equal(cert.sample_rate, 24 / 240);
    const recomputed = epsilonOf({
      spec: {
        mechanism: 'dpsgd',
        sampleRate: cert.sample_rate,
        sigma: cert.sigma,
        steps: cert.steps,
      },
      delta: cert.delta,
    }).epsilon;
    assert.equal(cert.epsilon, recomputed, 'the certificate’s ε is the accountant’s');
    const npz = readNpz(readFileSync(join(out, 'samples.npz')), 'samples.npz');
    assert.ok(npz.x && npz.y && npz.classes, 'x, y and classes');

    const runs = await dp2(['runs', 'show', String(result.runId), '--json'], { env });
    const shown = JSON.parse(runs.stdout) as { method: string; stepsPaid: number };
    assert.equal(shown.method, 'dpsgd');
    assert.ok(shown.stepsPaid >= 20, 'every step taken was paid for');
    const generated = await dp2(
      [
        'generate',
        '--run',
        String(result.runId),
        '--per-class',
        '2',
        '--out',
        join(tmp.path, 'more.npz'),
      ],
      { env },
    );
    assert.equal(generated.status, 0, generated.stderr);

    // DP²-VAE with per-record encoders on the same images: its own settings, the same mechanism.
    const wrong = await dp2(
      [
        'train',
        '--dataset',
        'digits',
        '--method',
        'dp2vae-per-record',
        '--epsilon',
        '5',
        '--blocks',
        '4',
      ],
      { env },
    );
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /blocks.*per-block DP²-VAE/);
    const perRecordOut = join(tmp.path, 'per-record');
    const perRecord = await dp2(
      [
        'train',
        '--dataset',
        'digits',
        '--method',
        'dp2vae-per-record',
        '--epsilon',
        '5',
        '--batch',
        '24',
        '--steps',
        '12',
        '--refine-steps',
        '2',
        '--out',
        perRecordOut,
        '--json',
      ],
      { env },
    );
    assert.equal(perRecord.status, 0, perRecord.stderr);
    assert.match(perRecord.stderr, /each image’s own encoder/);
    const prResult = JSON.parse(perRecord.stdout) as { status: string; steps: number };
    assert.equal(prResult.status, 'completed');
    assert.equal(prResult.steps, 12);
    const prCert = JSON.parse(readFileSync(join(perRecordOut, 'certificate.json'), 'utf8')) as {
      method: string;
      mechanism: string;
      adjacency: string;
      sample_rate: number;
      sigma: number;
      steps: number;
      delta: number;
      epsilon: number;
    };
    assert.equal(prCert.method, 'dp2vae-per-record');
    assert.equal(prCert.mechanism, cert.mechanism);
    assert.equal(prCert.adjacency, 'add-remove');
    assert.equal(
      prCert.epsilon,
      epsilonOf({
        spec: {
          mechanism: 'dpsgd',
          sampleRate: prCert.sample_rate,
          sigma: prCert.sigma,
          steps: 12,
        },
        delta: prCert.delta,
      }).epsilon,
    );
    const words = certificateInWords(prCert as unknown as AnyCertificate).join('\n');
    assert.match(words, /DP²-VAE with per-record encoders/);
    assert.match(words, /needs no noise of its own/);
    tmp.cleanup();
  },
);
