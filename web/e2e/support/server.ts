/** The real InvokeAI server as a subprocess: a fresh root dir (two demo models), started, stopped, restarted. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PYTHON, REPO_ROOT } from './env';

const ENV = { ...process.env, HF_HUB_OFFLINE: '1', PYTHONUNBUFFERED: '1', TRANSFORMERS_OFFLINE: '1' };

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export class InvokeServer {
  readonly root: string;
  readonly outdir: string;
  port = 0;
  private child: ChildProcess | null = null;
  private log: string[] = [];

  /** `extraArgs`: more flags for `invokeai --web` (say `--cluster local --cluster-workers 2`). */
  constructor(private readonly extraArgs: string[] = []) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'invokeai-e2e-'));
    this.outdir = path.join(this.root, 'outputs');
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** `python -m tests.support.make_root`: models.yaml, demo + demo-alt, random postprocessor weights. */
  buildRoot(): void {
    const result = spawnSync(PYTHON, ['-m', 'tests.support.make_root', this.root], {
      cwd: REPO_ROOT,
      env: ENV,
      encoding: 'utf8',
      timeout: 180_000,
    });
    if (result.status !== 0) {
      throw new Error(`make_root failed (${result.status}):\n${result.stderr}\n${result.stdout}`);
    }
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    this.log = [];
    const child = spawn(
      PYTHON,
      ['-m', 'invokeai_gui', '--web', '--port', String(this.port), '--root', this.root, '--outdir', this.outdir, ...this.extraArgs],
      { cwd: REPO_ROOT, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    const keep = (chunk: Buffer) => {
      this.log.push(chunk.toString());
      if (this.log.length > 400) this.log.splice(0, this.log.length - 400);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`The server exited with ${child.exitCode}:\n${this.output()}`);
      try {
        const res = await fetch(`${this.url}/healthz`);
        if (res.ok) {
          const body = (await res.json()) as { model_loaded?: boolean };
          if (body.model_loaded) return;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`The server did not become healthy in 120 s:\n${this.output()}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    this.child = null;
  }

  output(): string {
    return this.log.join('').slice(-6000);
  }

  cleanup(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
