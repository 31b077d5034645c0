/** `--name value` flags of a bench script: the value as a string or a number, or the fallback. */
export function benchArgs(argv: readonly string[] = process.argv.slice(2)): {
  arg: (name: string, fallback: string) => string;
  num: (name: string, fallback: number) => number;
} {
  const arg = (name: string, fallback: string): string => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? (argv[i + 1] ?? fallback) : fallback;
  };
  return { arg, num: (name, fallback) => Number(arg(name, String(fallback))) };
}
