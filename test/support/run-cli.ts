import { runCli } from '../../src-main/cli/main';

/** Runs the CLI in-process with captured output (same code path as bin/dp2.js). */
export async function runCliCaptured(
  argv: string[],
  { env = {}, cwd = process.cwd() }: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const status = await runCli(argv, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    isTTY: false,
    env: { ...process.env, ...env },
    cwd,
  });
  return { status, stdout, stderr };
}
