// Real servers on loopback for integration tests: ots-server as a child
// process, nginx with its own config and access log, and a small fault-
// injecting HTTP server that serves a directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';

const SERVER_BIN = fileURLToPath(new URL('../../bin/ots-server.js', import.meta.url));

export interface Running { url: string; port: number; stop: () => Promise<void>; child?: ChildProcess }

/** Start ots-server on an ephemeral loopback port; stopped after the test. */
export async function startOtsServer(repo: string, extra: string[] = []): Promise<Running> {
  const child = spawn(process.execPath, [SERVER_BIN, '--repo', repo, '--port', '0', '--log-level', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`ots-server exited ${code}: ${stderr}`)));
    setTimeout(() => reject(new Error(`ots-server did not start: ${stderr}`)), 15_000);
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  onTestFinished(stop);
  return { url, port: Number(new URL(url).port), stop, child };
}

/** Start nginx serving `root` on an ephemeral port; the access log lands in `dir`/access.log. */
export async function startNginx(root: string, dir: string): Promise<Running & { accessLog: () => string[] }> {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const conf = join(dir, 'nginx.conf');
  // Workers run as root too: test dirs are private (mkdtemp 0700) and owned by us.
  const user = process.getuid?.() === 0 ? 'user root root;' : '';
  writeFileSync(conf, `${user}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log;
daemon off;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  sendfile on;
  default_type application/octet-stream;
  server { listen 127.0.0.1:${port}; root ${root}; }
}
`);
  const child = spawn('nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try { await fetch(`${url}/config`); break; } catch { await new Promise((r) => setTimeout(r, 50)); }
  }
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  onTestFinished(stop);
  const accessLog = () => { try { return readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean); } catch { return []; } };
  return { url, port, stop, child, accessLog };
}

/** A hook deciding how to answer one request; return true when it answered. */
export type Fault = (req: IncomingMessage, res: ServerResponse, path: string) => boolean | Promise<boolean>;

/** Serve `root` over plain node:http, letting `fault` intercept requests. Records every requested path. */
export async function startFaultServer(root: string, fault: Fault): Promise<Running & { paths: string[]; server: Server }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/').replace(/^\/+/, '');
    paths.push(path);
    void (async () => {
      if (await fault(req, res, path)) return;
      const file = join(root, path);
      let size: number;
      try { const st = statSync(file); if (!st.isFile()) throw new Error('dir'); size = st.size; } catch {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': size });
      createReadStream(file).pipe(res);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const stop = async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); };
  onTestFinished(stop);
  return { url: `http://127.0.0.1:${port}`, port, stop, paths, server };
}
