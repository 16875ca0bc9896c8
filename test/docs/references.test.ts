import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/built.js';

/**
 * Comments and test names may point only at what is in the repository: every attack id they
 * cite has an entry in docs/security.md, and every file they name exists.
 */

const SECURITY_DOC = 'docs/security.md';
/** This file: its strings are patterns and examples, not references. */
const SELF = 'test/docs/references.test.ts';
/** Where a named file may live (the brief's search roots, plus the repository's top level). */
const FILE_ROOTS = ['src', 'test', 'docs', 'bench', 'config', 'providers'];

/**
 * Files a comment may name although they are not in the repository, each with its reason.
 * A path prefix ends with '/'.
 */
const NOT_IN_REPO: Record<string, string> = {
  'dist/': 'build output of `npm run build`',
  'bench/results/': 'written by `npm run bench`, not committed (.gitignore)',
  'latest.json': 'bench/results/latest.json, written by `npm run bench`',
};

function walk(dir: string, keep: (path: string) => boolean): string[] {
  const abs = join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : walk(path, keep);
    return keep(path) ? [path] : [];
  });
}

const CODE = /\.(ts|mts|mjs)$/;
const codeFiles = () => ['src', 'test'].flatMap((dir) => walk(dir, (p) => CODE.test(p))).filter((p) => p !== SELF);
const docFiles = () => walk('docs', (p) => p.endsWith('.md'));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** The text of every comment in a TypeScript/JavaScript file (the parser tells code from comment). */
function comments(path: string, text: string): string[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, false);
  const seen = new Set<number>();
  const found: string[] = [];
  const take = (ranges: ts.CommentRange[] | undefined) => {
    for (const range of ranges ?? []) {
      if (seen.has(range.pos)) continue;
      seen.add(range.pos);
      found.push(text.slice(range.pos, range.end));
    }
  };
  const visit = (node: ts.Node) => {
    take(ts.getLeadingCommentRanges(text, node.pos));
    take(ts.getTrailingCommentRanges(text, node.end));
    for (const child of node.getChildren(source)) visit(child);
  };
  visit(source);
  return found;
}

/** Long ids (`S-RU-01`, `K-07`), with shorthand siblings expanded: `S-CA-02/03` → S-CA-02, S-CA-03. */
const LONG_ID = /(?<![\w-])([A-Z]{1,4}(?:-[A-Z0-9]{2,6})*-)(\d{2})((?:\/\d{2})*)(?![\w-])/g;
/** Short ids of the bad-input list (`A3`), read only in test names, where they cannot be data. */
const SHORT_ID = /(?<![\w-])[ATURDOC]\d{1,2}(?![\w-])/g;
const TEST_NAME = /\b(?:it|describe|test)(?:\.each\([^)]*\))?\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/g;

function citedIds(text: string): string[] {
  const ids: string[] = [];
  for (const [, prefix, first, more] of text.matchAll(LONG_ID)) {
    ids.push(`${prefix}${first}`);
    for (const n of more!.split('/').filter(Boolean)) ids.push(`${prefix}${n}`);
  }
  for (const [, , name] of text.matchAll(TEST_NAME)) ids.push(...(name!.match(SHORT_ID) ?? []));
  return ids;
}

/** Entries of docs/security.md: list items that start with a bold id. */
function documentedIds(doc: string): string[] {
  return [...doc.matchAll(/^- \*\*([A-Z0-9-]+)\*\*/gm)].map((m) => m[1]!);
}

/** Paths to repository files, as a comment or a document writes them (URLs are not matched). */
const EXTENSIONS = 'ts|mts|mjs|js|md|ya?ml|json';
const PATH = String.raw`(?:\.{1,2}/)*(?:[\w-]+/)*[\w-]+(?:\.[\w-]+)*`;
const FILE_REF = new RegExp(String.raw`(?<![\w./@:-])(${PATH}\.(?:${EXTENSIONS}))(?![\w/])`, 'g');

function fileRefs(text: string): string[] {
  return [...text.matchAll(FILE_REF)].map((m) => m[1]!);
}

const repoFiles = [
  ...FILE_ROOTS.flatMap((dir) => walk(dir, () => true)),
  ...readdirSync(ROOT, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name),
];

/** Whether a named file exists: as written (from the citing file or the root), or as the tail of a real path. */
function resolves(ref: string, from: string): boolean {
  if (Object.keys(NOT_IN_REPO).some((allowed) => (allowed.endsWith('/') ? ref.startsWith(allowed) : ref === allowed))) {
    return true;
  }
  // A compiled name stands for its source: ./params.js is src/oauth/params.ts.
  const variants = [ref, ref.replace(/\.js$/, '.ts'), ref.replace(/\.mjs$/, '.mts')];
  for (const variant of variants) {
    if (existsSync(join(ROOT, dirname(from), variant)) || existsSync(join(ROOT, variant))) return true;
    const tail = normalize(variant).replace(/^(\.\.?\/)+/, '');
    if (repoFiles.some((file) => file === tail || file.endsWith(`/${tail}`))) return true;
  }
  return false;
}

describe('references in comments and test names (docs/security.md)', () => {
  const doc = read(SECURITY_DOC);
  const entries = documentedIds(doc);
  const headings = new Set([...doc.matchAll(/^#{2,3} (.+)$/gm)].map((m) => m[1]!.trim()));

  it('reads ids the way the code writes them', () => {
    expect(citedIds('(S-CA-02/03/04) and S-INJ-03/S-PKD-02; K-07.')).toEqual([
      'S-CA-02',
      'S-CA-03',
      'S-CA-04',
      'S-INJ-03',
      'S-PKD-02',
      'K-07',
    ]);
    expect(citedIds("it('A3/A4: repeated', () => expect(x).toBe('T1:U1'))")).toEqual(['A3', 'A4']);
    expect(citedIds('SHA-256, P-256, UTF-8, CVE-2025-68481, RFC 9700 §4.4.2.2, 2026-11-26')).toEqual([]);
    expect(fileRefs('see callback.ts, ./params.js and docs/security.md; https://example.com/a.json')).toEqual([
      'callback.ts',
      './params.js',
      'docs/security.md',
    ]);
    const code = [
      '/** one */',
      'const re = /^https?:\\/\\/[^/]+\\/*/; // two',
      "const s = '// not a comment';",
      'function f() {',
      '  g();',
      '  /* three */',
      '}',
      '// four',
    ].join('\n');
    expect(comments('x.ts', code)).toEqual(['/** one */', '// two', '/* three */', '// four']);
  });

  it('docs/security.md has one entry per id', () => {
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.filter((id, i) => entries.indexOf(id) !== i)).toEqual([]);
  });

  it('every id cited in src/, test/ and docs/ has an entry in docs/security.md', () => {
    const missing: string[] = [];
    const sources = [...codeFiles(), ...docFiles().filter((p) => p !== SECURITY_DOC)];
    for (const path of sources) {
      for (const id of new Set(citedIds(read(path)))) if (!entries.includes(id)) missing.push(`${path}: ${id}`);
    }
    expect(missing).toEqual([]);
  });

  it('cites the security document by its path in the repository, and its sections by their names', () => {
    const problems: string[] = [];
    for (const path of codeFiles()) {
      const text = read(path);
      for (const m of text.matchAll(/(?<!docs\/)security\.md|security catalogue|docs\/security\.md §/g)) {
        problems.push(`${path}: "${m[0]}" (write docs/security.md followed by an id or a "Section name")`);
      }
      for (const [, section] of text.matchAll(/docs\/security\.md,? "([^"]+)"/g)) {
        if (!headings.has(section!)) problems.push(`${path}: no section "${section}" in docs/security.md`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every file named in a comment, or in docs/, exists in the repository', () => {
    const dangling: string[] = [];
    for (const path of codeFiles()) {
      const text = read(path);
      for (const comment of comments(path, text)) {
        for (const ref of fileRefs(comment)) if (!resolves(ref, path)) dangling.push(`${path}: ${ref}`);
      }
    }
    for (const path of docFiles()) {
      for (const ref of fileRefs(read(path))) if (!resolves(ref, path)) dangling.push(`${path}: ${ref}`);
    }
    expect(dangling).toEqual([]);
  });
});
