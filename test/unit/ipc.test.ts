import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHANNEL_NAMES, ipcName } from '../../src-main/contract';
import { registerIpc, trustedSenderCheck } from '../../src-main/app/ipc';
import { APP_PAGE_URL } from '../../src-main/app/renderer-request';
import type { IpcEventLike, IpcMainLike } from '../../src-main/app/ipc';
import { ServiceContext } from '../../src-main/services/context';
import { createServices } from '../../src-main/services/create-services';
import { tempDir } from '../support/temp';

type Listener = (event: IpcEventLike, ...args: unknown[]) => Promise<unknown>;

function wire() {
  const home = tempDir();
  const listeners = new Map<string, Listener>();
  const ipc: IpcMainLike = {
    handle: (channel, listener) => {
      assert.ok(!listeners.has(channel), `${channel} registered twice`);
      listeners.set(channel, listener);
    },
    removeHandler: (channel) => void listeners.delete(channel),
  };
  const appPage = APP_PAGE_URL;
  const services = new ServiceContext(home.path);
  const unregister = registerIpc(ipc, createServices(services), {
    isTrustedSender: trustedSenderCheck({ pageUrl: APP_PAGE_URL }),
  });
  const call = (channel: string, args: unknown[], url = appPage) => {
    const listener = listeners.get(channel);
    assert.ok(listener, `no handler for ${channel}`);
    return listener({ senderFrame: { url } }, ...args);
  };
  return {
    listeners,
    unregister,
    call,
    cleanup: () => {
      services.close();
      home.cleanup();
    },
  };
}

test('every contract channel is registered under its namespaced name, and removed again', () => {
  const { listeners, unregister, cleanup } = wire();
  assert.deepEqual([...listeners.keys()].sort(), CHANNEL_NAMES.map(ipcName).sort());
  unregister();
  assert.equal(listeners.size, 0);
  cleanup();
});

test('a valid request from the app page reaches the real accountant', async () => {
  const { call, cleanup } = wire();
  const reply = (await call(ipcName('privacy.account'), [
    { spec: { mechanism: 'dp2vae', blocks: 100, sigma: 1.549, steps: 3000 }, delta: 1e-5 },
  ])) as { ok: boolean; value: { epsilon: number } };
  assert.equal(reply.ok, true);
  // FINDINGS.md: σ = 1.549 is what ε = 10 needs at K = 100, T = 3000, δ = 1e-5 (WBK)
  assert.ok(Math.abs(reply.value.epsilon - 10) < 0.1, `ε = ${reply.value.epsilon}`);
  cleanup();
});

test('requests from any other page or frame are refused', async () => {
  const { call, cleanup } = wire();
  const request = { spec: { mechanism: 'dp2vae', blocks: 100, sigma: 1, steps: 10 }, delta: 1e-5 };
  for (const url of [
    'https://example.com/',
    'file:///opt/dp2/out/renderer/index.html',
    'file:///tmp/evil.html',
    'app://dp2/other.html',
    'app://evil/index.html',
    'app://user@dp2/index.html',
    'http://dp2/index.html',
    'about:blank',
    '',
  ]) {
    const reply = (await call(ipcName('privacy.account'), [request], url)) as {
      ok: boolean;
      error: { message: string };
    };
    assert.equal(reply.ok, false, url);
    assert.match(reply.error.message, /did not come from DP² Studio/);
  }
  cleanup();
});

test('malformed payloads are rejected with the field named, never reaching a service', async () => {
  const { call, cleanup } = wire();
  const cases: [unknown[], RegExp][] = [
    [[{ spec: { mechanism: 'dp2vae', blocks: 100, sigma: -1, steps: 10 }, delta: 1e-5 }], /sigma/],
    [[{ spec: { mechanism: 'dp2vae', blocks: 100, sigma: 1, steps: 10 }, delta: 2 }], /delta/],
    [[{ spec: { mechanism: 'other', sigma: 1, steps: 10 }, delta: 1e-5 }], /mechanism/],
    [
      [{ spec: { mechanism: 'dp2vae', blocks: 100, sigma: 1, steps: 10, extra: 1 }, delta: 1e-5 }],
      /extra|unrecognized/i,
    ],
    [['not an object'], /Invalid request/],
    [[], /exactly one argument/],
    [[{}, {}], /exactly one argument/],
  ];
  for (const [args, message] of cases) {
    const reply = (await call(ipcName('privacy.account'), args)) as {
      ok: boolean;
      error: { code: string; message: string };
    };
    assert.equal(reply.ok, false, JSON.stringify(args));
    assert.equal(reply.error.code, 'INVALID_INPUT');
    assert.match(reply.error.message, message);
  }
  cleanup();
});

test('an unreachable target comes back as a plain error, not an exception', async () => {
  const { call, cleanup } = wire();
  const reply = (await call(ipcName('privacy.calibrate'), [
    { spec: { mechanism: 'dpsgd', sampleRate: 1, steps: 1_000_000 }, epsilon: 1e-4, delta: 1e-9 },
  ])) as { ok: boolean; error: { code: string; message: string } };
  assert.equal(reply.ok, false);
  assert.equal(reply.error.code, 'UNREACHABLE_TARGET');
  cleanup();
});
