import { spawn } from 'node:child_process';
import { MAIN, ROOT } from './built.js';

export type CliRun = { status: number | null; stdout: string; stderr: string };

/** Runs `login-broker users ...` with `input` on standard input (a pipe, not a terminal). */
export function usersCli(args: string[], configFile: string, input = ''): Promise<CliRun> {
  return brokerCli('users', args, configFile, input);
}

/** Runs `login-broker clients ...` with `input` on standard input (a pipe, not a terminal). */
export function clientsCli(args: string[], configFile: string, input = ''): Promise<CliRun> {
  return brokerCli('clients', args, configFile, input);
}

function brokerCli(command: string, args: string[], configFile: string, input: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, command, ...args, '--config', configFile], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input);
  });
}
