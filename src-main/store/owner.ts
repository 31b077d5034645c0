/**
 * Who owns a running run or an import in progress, and whether that owner is
 * gone. An owner is `"<pid>:<connection>:<start mark>"`: the process id, a
 * random id of the store connection, and a short digest of the process's
 * start time as the operating system reports it. A PID alone is not enough:
 * after a reboot (or long enough) another process gets the same number, and a
 * dead run would then stay "running" forever. Owners written before the start
 * mark existed (`"<pid>:<connection>"`) are judged by their PID alone.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** An owner string taken apart. */
export interface OwnerId {
  pid: number;
  /** Random id of the store connection (or of the importing process). */
  connection: string;
  /** Digest of the process's start time; null for owners written without one. */
  startMark: string | null;
}

/** What the operating system says about a process id now. */
export interface ProcessProbe {
  /** Whether some process has this id. */
  alive: boolean;
  /** Digest of that process's start time; null when the system would not say. */
  startMark: string | null;
}

/** Reads an owner string; null when it is missing or not one of ours. */
export function parseOwner(text: string | null): OwnerId | null {
  if (text === null) return null;
  const [pidText, connection, startMark, ...rest] = text.split(':');
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0 || !connection || rest.length > 0) return null;
  return { pid, connection, startMark: startMark ? startMark : null };
}

/** Writes an owner string (the inverse of `parseOwner`). */
export function formatOwner(owner: OwnerId): string {
  return [owner.pid, owner.connection, ...(owner.startMark ? [owner.startMark] : [])].join(':');
}

/**
 * Whether the owner recorded on a run or an import is gone: no owner, a dead
 * process, or a live process that started at another time than the recorded
 * one (its PID was reused). A start time the system will not tell is no proof
 * of anything: then the PID decides, as before. Within this very process,
 * `sameProcess` says what counts: `'connection'` (runs: only this store
 * connection's runs are still its own) or `'process'` (imports: any import of
 * this process may still be going).
 */
export function isOwnerGone(input: {
  owner: string | null;
  self: string;
  selfPid: number;
  sameProcess: 'connection' | 'process';
  probe: (pid: number) => ProcessProbe;
}): boolean {
  const owner = parseOwner(input.owner);
  if (owner === null) return true;
  if (owner.pid === input.selfPid) {
    const self = parseOwner(input.self);
    // Our PID, but recorded by an earlier process that had it (before a reboot).
    if (owner.startMark && self?.startMark && owner.startMark !== self.startMark) return true;
    return input.sameProcess === 'connection' && formatOwner(owner) !== input.self;
  }
  const now = input.probe(owner.pid);
  if (!now.alive) return true;
  return owner.startMark !== null && now.startMark !== null && owner.startMark !== now.startMark;
}

/** The process start time as the system reports it, in a form only compared for equality. */
export function processStartTime(
  pid: number,
  platform: NodeJS.Platform = process.platform,
): string | null {
  try {
    if (platform === 'linux') return linuxStartTime(pid) ?? psStartTime(pid);
    if (platform === 'win32') return windowsStartTime(pid);
    return psStartTime(pid);
  } catch {
    return null;
  }
}

/**
 * Linux: the boot id (changes at every boot) and field 22 of
 * `/proc/<pid>/stat`, the start time in clock ticks since boot. Exact, no
 * process spawned.
 */
function linuxStartTime(pid: number): string | null {
  let stat: string;
  let boot: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    boot = readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces
  // or parentheses: count the fields from the last ')'; field 3 comes first.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = fields[22 - 3];
  return ticks && /^\d+$/.test(ticks) ? `linux ${boot} ${ticks}` : null;
}

/** macOS and the BSDs: `ps -o lstart=` (to the second; fixed locale and time zone). */
function psStartTime(pid: number): string | null {
  const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], {
    encoding: 'utf8',
    timeout: 5000,
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' },
  }).trim();
  return out ? `ps ${out}` : null;
}

/** Windows: the process's creation time from PowerShell (no `ps` there). */
function windowsStartTime(pid: number): string | null {
  const out = execFileSync(
    'powershell.exe',
    [
      '-NoProfile',
      '-NonInteractive',
      '-Command',
      `(Get-Process -Id ${pid}).StartTime.ToUniversalTime().Ticks`,
    ],
    { encoding: 'utf8', timeout: 10000, stdio: ['ignore', 'pipe', 'ignore'], windowsHide: true },
  ).trim();
  return /^\d+$/.test(out) ? `win ${out}` : null;
}

/** A short digest of a start time (keeps owner strings short and free of ':'). */
export function startMark(startTime: string | null): string | null {
  return startTime === null
    ? null
    : createHash('sha256').update(startTime).digest('hex').slice(0, 16);
}

/** What the system says about `pid` now (a signal 0 and its start time). */
export function probeProcess(pid: number): ProcessProbe {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return { alive: false, startMark: null };
  }
  return { alive: true, startMark: startMark(processStartTime(pid)) };
}

let ownMark: string | null | undefined;

/** A new owner string for a connection (or an import) of this process. */
export function newOwner(): string {
  ownMark ??= startMark(processStartTime(process.pid));
  return formatOwner({
    pid: process.pid,
    connection: randomBytes(6).toString('hex'),
    startMark: ownMark,
  });
}

/**
 * Whether `owner` is gone, asking the system about its process (see
 * `isOwnerGone`; `self` is the caller's own owner string).
 */
export function ownerGone(
  owner: string | null,
  self: string,
  sameProcess: 'connection' | 'process',
): boolean {
  return isOwnerGone({ owner, self, selfPid: process.pid, sameProcess, probe: probeProcess });
}
