import type { Handlers } from '../contract';
import { UserError } from '../contract/errors';
import { createServices } from '../services/create-services';
import { ServiceContext } from '../services/context';
import { dataHome } from '../services/data-home';
import { appVersion } from '../services/version';
import { ACCOUNT_USAGE, accountCommand } from './commands/account';
import { CALIBRATE_USAGE, calibrateCommand } from './commands/calibrate';
import {
  DATASETS_USAGE,
  IMPORT_USAGE,
  LEDGER_USAGE,
  datasetsCommand,
  importCommand,
  ledgerCommand,
} from './commands/datasets';
import { EVAL_USAGE, evalCommand } from './commands/eval';
import { FEATURES_USAGE, featuresCommand } from './commands/features';
import { CLASSIFY_USAGE, classifyCommand } from './commands/classify';
import { PREDICT_USAGE, predictCommand } from './commands/predict';
import { PRIORS_USAGE, priorsCommand } from './commands/priors';
import {
  EXPORT_USAGE,
  GENERATE_USAGE,
  RUNS_USAGE,
  exportCommand,
  generateCommand,
  runsCommand,
} from './commands/runs';
import { TRAIN_USAGE, trainCommand } from './commands/train';
import { EXIT_OK, EXIT_USAGE, EXIT_USER_ERROR, UsageError } from './io';
import type { CliIo } from './io';

interface Command {
  summary: string;
  usage: string;
  run(argv: string[], io: CliIo, handlers: Handlers, services: ServiceContext): Promise<void>;
}

const COMMANDS: Record<string, Command> = {
  account: {
    summary: 'privacy spent (ε) by a training plan',
    usage: ACCOUNT_USAGE,
    run: accountCommand,
  },
  calibrate: {
    summary: 'smallest noise σ for a target ε',
    usage: CALIBRATE_USAGE,
    run: calibrateCommand,
  },
  import: { summary: 'import a private image data set', usage: IMPORT_USAGE, run: importCommand },
  datasets: {
    summary: 'list, show, delete data sets; set a budget cap',
    usage: DATASETS_USAGE,
    run: datasetsCommand,
  },
  ledger: {
    summary: 'privacy spent on a data set, run by run',
    usage: LEDGER_USAGE,
    run: ledgerCommand,
  },
  train: {
    summary: 'train a private generator (or a private classifier: --method randp)',
    usage: TRAIN_USAGE,
    run: trainCommand,
  },
  runs: { summary: 'list and show training runs', usage: RUNS_USAGE, run: runsCommand },
  generate: {
    summary: 'synthetic images from a released decoder',
    usage: GENERATE_USAGE,
    run: generateCommand,
  },
  eval: {
    summary: 'utility, fidelity and membership audit of synthetic images',
    usage: EVAL_USAGE,
    run: evalCommand,
  },
  classify: {
    summary: 'train a private classifier (dp2 train --method randp)',
    usage: CLASSIFY_USAGE,
    run: classifyCommand,
  },
  predict: {
    summary: 'classes of images from a released private classifier',
    usage: PREDICT_USAGE,
    run: predictCommand,
  },
  export: {
    summary: 'a run’s releasable artifacts into a folder',
    usage: EXPORT_USAGE,
    run: exportCommand,
  },
  features: {
    summary: 'features of images under the random-process prior',
    usage: FEATURES_USAGE,
    run: featuresCommand,
  },
  priors: {
    summary: 'the random-process prior shipped with the app, verified',
    usage: PRIORS_USAGE,
    run: priorsCommand,
  },
};

function helpText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(
    ([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`,
  );
  return `dp2 — DP² Studio on the command line (version ${appVersion()})

Usage: dp2 <command> [options]     dp2 <command> --help for a command's options

Commands:
${lines.join('\n')}

Data folder: $DP2_HOME if set, else the app's data folder (shared with the desktop app).
Exit status: 0 success, 1 a problem with the input (message on stderr), 2 bad usage.
`;
}

/**
 * Runs `dp2 <argv>` and returns the exit status. `--json` output goes to
 * stdout alone; every message for people goes to stderr on failure.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const command = topic === undefined ? undefined : COMMANDS[topic];
    io.stdout(command ? command.usage + '\n' : helpText());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === '-v') {
    io.stdout(appVersion() + '\n');
    return EXIT_OK;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.stderr(`dp2: unknown command "${name}". Run "dp2 --help" for the list of commands.\n`);
    return EXIT_USAGE;
  }
  const services = new ServiceContext(dataHome(io.env));
  try {
    await command.run(rest, io, createServices(services), services);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`dp2 ${name}: ${err.message}.\n\n${command.usage}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof UserError) {
      io.stderr(`dp2 ${name}: ${err.message}\n`);
      return EXIT_USER_ERROR;
    }
    io.stderr(`dp2 ${name}: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT_USER_ERROR;
  } finally {
    for (const notice of services.notices) io.stderr(`dp2: ${notice}\n`);
    services.close();
  }
}
