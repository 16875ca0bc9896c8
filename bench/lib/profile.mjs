// Reads a V8 .cpuprofile (node --cpu-prof) and sums self time per function and per area.
import { readFileSync } from 'node:fs';

/** Where a script lives: a package under node_modules, our dist/<area>, node internals, or V8. */
export function areaOf(url) {
  if (!url) return '(v8 / native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  const ours = /\/dist\/([^/]+)\//.exec(url);
  if (ours) return `broker ${ours[1]}/`;
  if (url.startsWith('node:')) return 'node internals';
  return url;
}

export function summarizeProfile(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  // Start-up (loading and compiling modules) is not what a login costs: leave those samples out.
  const startup = new Map();
  const isStartup = (id) => {
    if (startup.has(id)) return startup.get(id);
    const { url, functionName } = byId.get(id).callFrame;
    const parent = parentOf.get(id);
    const value =
      /^node:internal\/modules\//.test(url) ||
      (functionName === '' && url.endsWith('/dist/main.js')) ||
      (parent !== undefined && isStartup(parent));
    startup.set(id, value);
    return value;
  };
  const self = new Map();
  let total = 0;
  let startupUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    if (isStartup(profile.samples[i])) {
      startupUs += dt;
      continue;
    }
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
  }
  const fns = new Map();
  const groups = new Map();
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') {
      if (name === '(idle)') continue;
    }
    total += us;
    const where = url ? `${url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${name} ${where}`;
    const f = fns.get(key) ?? { name, where, us: 0 };
    f.us += us;
    fns.set(key, f);
    // Charged to the nearest package or broker area up the stack: who caused the cost (a socket
    // write under ioredis is ioredis's), not where the CPU was when sampled.
    let groupName = name === '(garbage collector)' || name === '(program)' ? name : undefined;
    for (let cur = id, depth = 0; !groupName && cur !== undefined && depth < 200; cur = parentOf.get(cur), depth++) {
      const frameUrl = byId.get(cur).callFrame.url;
      if (/node_modules\/|\/dist\//.test(frameUrl)) groupName = areaOf(frameUrl);
    }
    groupName ??= url.startsWith('node:') ? 'node internals (HTTP parsing, sockets, timers)' : '(v8 / native)';
    groups.set(groupName, (groups.get(groupName) ?? 0) + us);
  }
  // Inclusive time of the broker's own functions (synchronous stacks only: time a function
  // spends waiting on Redis or a signature job is not in it).
  const parent = parentOf;
  const inclusive = new Map();
  for (const [id, us] of self) {
    const leaf = byId.get(id);
    if (!leaf || leaf.callFrame.functionName === '(idle)') continue;
    const seen = new Set();
    for (let cur = id, depth = 0; cur && depth < 200; cur = parent.get(cur), depth++) {
      const { functionName, url, lineNumber } = byId.get(cur).callFrame;
      if (!/\/dist\//.test(url) || /node_modules/.test(url)) continue;
      const label = `${functionName || '(anonymous)'} ${url.replace(/^.*\/dist\//, 'dist/')}:${lineNumber + 1}`;
      if (seen.has(label)) continue;
      seen.add(label);
      inclusive.set(label, (inclusive.get(label) ?? 0) + us);
    }
  }
  const brokerInclusive = [...inclusive]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20)
    .map(([label, us]) => ({ label, percent: (us / total) * 100 }));
  const top = [...fns.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, 30)
    .map((f) => ({ ...f, percent: (f.us / total) * 100 }));
  const g = [...groups].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, us, percent: (us / total) * 100 }));
  return { busyMs: total / 1000, startupMs: startupUs / 1000, top, groups: g, brokerInclusive };
}
