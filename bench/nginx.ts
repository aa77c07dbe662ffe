// Start/stop a throwaway nginx serving a directory on a loopback port (bench only).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Nginx { url: string; stop: () => Promise<void>; logPath: string }

export async function startNginx(root: string, dir: string, port: number): Promise<Nginx> {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const logPath = join(dir, 'access.log');
  writeFileSync(join(dir, 'nginx.conf'), `user root root;
worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/logs/error.log; daemon off;
events { worker_connections 1024; }
http { access_log ${logPath}; sendfile on; open_file_cache max=20000; default_type application/octet-stream;
  client_body_temp_path ${dir}/b; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;
  server { listen 127.0.0.1:${port}; root ${root}; } }
`);
  const child: ChildProcess = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'inherit' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try { await fetch(`${url}/config`); break; } catch { await new Promise((r) => setTimeout(r, 50)); }
  }
  return { url, logPath, stop: async () => { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); } };
}
