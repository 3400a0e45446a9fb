/**
 * A WASI guest (test/fixtures/c/escape.c) trying to get out of its preopens, against
 * in-memory mounts and Node host-directory mounts. Each attack asserts:
 * - the denial as the program sees it (the errno it prints per step),
 * - the audit events (capability 'filesystem', the WASI operation, the path),
 * - for host mounts, that the mounted directories and a second temp directory holding a
 *   secret (which symlinks in the mount point at) are byte-identical afterwards and the
 *   secret never reached the guest's output,
 * - that a normal run on the same sandbox still works.
 *
 * Tests named "POSIX:" check errnos that matter for programs rather than for confinement.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sandbox, type CommandOutput, type SecurityEvent } from 'wasm-sandbox'
import { buildFixtures, type Fixtures } from './build.js'
import { E, SECRET, describeEvents, errno, expectFsEvent, makeHostFixture, snapshot, steps, type HostFixture } from './helpers.js'

const FILES = { 'a.txt': 'alpha\n', 'sub/b.txt': 'beta\n' }
const NOT_OK = new RegExp(`^errno=(${E.NOTCAPABLE}|${E.NOENT})$`)

interface AttackResult {
  out: CommandOutput
  r: Map<string, string>
  events: SecurityEvent[]
  /** Host mounts: the base and outside directories before and after the run. */
  before: Record<string, string>[] | null
  after: Record<string, string>[] | null
}

describe.each(['memory', 'host'] as const)('escape attempts against %s mounts', (kind) => {
  let wasm: Fixtures
  let sb: Sandbox
  let host: HostFixture | null = null
  /** The outside target, relative to /data and absolute. */
  let target = '../../etc/passwd'
  let targetAbs = '/etc/passwd'
  const results = new Map<string, Promise<AttackResult>>()

  beforeAll(async () => {
    wasm = await buildFixtures()
    if (kind === 'host') {
      host = await makeHostFixture()
      target = `../../${basename(host.outside)}/secret.txt`
      targetAbs = host.secretFile
    }
    const preopens = host
      ? { '/data': { host: host.mount }, '/other': { host: host.other }, '/ro': { host: host.ro, readonly: true } }
      : { '/data': { files: FILES }, '/other': { files: { 'o.txt': 'other\n' } }, '/ro': { files: FILES, readonly: true } }
    sb = await Sandbox.create(wasm.escape!, { wasi: { preopens } })
  })

  afterAll(async () => {
    await sb?.close()
    await host?.cleanup()
  })

  const snap = async () => (host ? [await snapshot(host.base), await snapshot(host.outside)] : null)

  /** Runs an attack once per describe (several tests may look at the same run). */
  function attack(name: string): Promise<AttackResult> {
    let pending = results.get(name)
    if (!pending) {
      pending = (async () => {
        const before = await snap()
        const from = sb.audit().length
        const out = await sb.runCommand({ args: [name, target, targetAbs] })
        return { out, r: steps(out.stdout), events: sb.audit().slice(from), before, after: await snap() }
      })()
      results.set(name, pending)
    }
    return pending
  }

  /** What every attack must leave behind: a clean exit, no secret, an untouched host. */
  function expectContained(result: AttackResult): void {
    const { out } = result
    expect(out.exitCode, out.stderr).toBe(0)
    expect(out.stdout).toContain('data-fd=found')
    expect(out.stdout.endsWith('done\n'), out.stdout).toBe(true)
    expect(out.stdout + out.stderr).not.toContain(SECRET)
    expect(out.stdout).not.toMatch(/root:x:0:0/)
    if (result.before) expect(result.after).toEqual(result.before)
  }

  /** A normal run after the attack: the sandbox still serves well-behaved programs. */
  async function expectNormalRun(): Promise<void> {
    const out = await sb.runCommand({ args: ['normal'] })
    expect(out.exitCode).toBe(0)
    expect(out.stdout).toBe([
      'attack=normal data-fd=found',
      'open /data/a.txt: ok', 'open /data/a.txt read=alpha\\n',
      'open /data/sub/b.txt: ok', 'open /data/sub/b.txt read=beta\\n',
      'open /ro/a.txt: ok', 'open /ro/a.txt read=alpha\\n',
      'opendir /other: ok', 'opendir /other entries=.,..,o.txt,',
      'done',
    ].join('\n') + '\n')
  }

  /** Asserts each listed step printed `expected`. */
  function expectSteps(r: Map<string, string>, names: string[], expected: string | RegExp, stdout: string): void {
    for (const name of names) {
      const got = r.get(name)
      if (expected instanceof RegExp) expect(got, `${name}\n${stdout}`).toMatch(expected)
      else expect(got, `${name}\n${stdout}`).toBe(expected)
    }
  }

  it('dotdot: .. past the preopen is ENOTCAPABLE, however it is spelled', async () => {
    const res = await attack('dotdot')
    const { r, events, out } = res
    expectContained(res)
    expectSteps(r, [
      'open /data/<target>', 'open /data/sub/../../../etc/passwd', 'opendir /data/..', 'stat /data/<target>',
      'path_open <target>', 'path_open ..', 'path_open sub/../../a.txt',
      'open <target> from cwd /data', 'create ../escaped.txt from cwd /data', 'mkdir ../escaped-dir from cwd /data',
    ], errno(E.NOTCAPABLE), out.stdout)
    expect(r.get('open <target> from cwd /')).toMatch(NOT_OK)
    // .. that stays inside is fine
    expect(r.get('path_open sub/../a.txt')).toBe('ok')
    expect(out.stdout).toContain('path_open sub/../a.txt read=alpha\\n')
    expect(r.get('chdir /data')).toBe('ok')
    expectFsEvent(events, 'path_open', target)
    expectFsEvent(events, 'path_open', '..')
    expectFsEvent(events, 'path_open', 'sub/../../a.txt')
    expectFsEvent(events, 'path_open', 'sub/../../../etc/passwd')
    expectFsEvent(events, 'path_filestat_get', target)
    expectFsEvent(events, 'path_open', '../escaped.txt')
    expectFsEvent(events, 'path_create_directory', '../escaped-dir')
    expect(events.every((e) => e.capability === 'filesystem'), describeEvents(events)).toBe(true)
    await expectNormalRun()
  })

  it('absolute: absolute paths are never resolved on the host', async () => {
    const existedBefore = existsSync('/tmp/escaped.txt')
    const res = await attack('absolute')
    const { r, events, out } = res
    expectContained(res)
    expectSteps(r, ['open /etc/passwd', 'open <abs target>'], NOT_OK, out.stdout)
    expectSteps(r, ['path_open /etc/passwd', 'path_open <abs target>', 'path_open //etc/passwd', 'path_open create /tmp/escaped.txt'], errno(E.NOTCAPABLE), out.stdout)
    expectFsEvent(events, 'path_open', '/etc/passwd')
    expectFsEvent(events, 'path_open', targetAbs)
    expectFsEvent(events, 'path_open', '//etc/passwd')
    expectFsEvent(events, 'path_open', '/tmp/escaped.txt')
    if (!existedBefore) expect(existsSync('/tmp/escaped.txt')).toBe(false)
    await expectNormalRun()
  })

  it.runIf(kind === 'host')('symlink-existing: symlinks in a host mount that lead out are ENOTCAPABLE; one that stays inside works', async () => {
    const res = await attack('symlink-existing')
    const { r, events, out } = res
    expectContained(res)
    expectSteps(r, [
      'open /data/link-file', 'open /data/link-dir/secret.txt', 'open /data/link-up', 'stat /data/link-file', 'opendir /data/link-dir',
      'create through /data/dangling', 'create /data/link-dir/created.txt', 'mkdir /data/link-dir/newdir',
      'unlink /data/link-dir/secret.txt', 'write through /data/link-file',
    ], errno(E.NOTCAPABLE), out.stdout)
    expect(r.get('open /data/link-file O_NOFOLLOW')).not.toBe('ok')
    expect(r.get('open /data/inner-link')).toBe('ok')
    expect(out.stdout).toContain('open /data/inner-link read=alpha\\n')
    expect(existsSync(`${host!.outside}/created.txt`)).toBe(false)
    for (const path of ['link-file', 'link-dir/secret.txt', 'link-up', 'dangling', 'link-dir/created.txt']) expectFsEvent(events, 'path_open', path)
    expectFsEvent(events, 'path_filestat_get', 'link-file')
    expectFsEvent(events, 'path_create_directory', 'link-dir/newdir')
    expectFsEvent(events, 'path_unlink_file', 'link-dir/secret.txt')
    await expectNormalRun()
  })

  it.runIf(kind === 'host')('symlink-existing: the tree walker (stat follows links) sees the outward links as errors, never their targets', async () => {
    const before = await snap()
    const tree = await Sandbox.create(wasm.tree!, { wasi: { preopens: { '/data': { host: host!.mount } } } })
    try {
      const out = await tree.runCommand()
      expect(out.stdout).toBe([
        'a.txt size=6',
        `dangling error errno=${E.NOTCAPABLE}`,
        'inner-link size=6',
        `link-dir error errno=${E.NOTCAPABLE}`,
        `link-file error errno=${E.NOTCAPABLE}`,
        `link-up error errno=${E.NOTCAPABLE}`,
        'sub/ dir',
        'sub/b.txt size=5',
        'entries=8',
      ].join('\n') + '\n')
      expectFsEvent(tree.audit(), 'path_filestat_get', 'link-dir')
    } finally {
      await tree.close()
    }
    expect(await snap()).toEqual(before)
  })

  it('symlink-create: creating symlinks is EPERM and audited with the link\'s path', async () => {
    const res = await attack('symlink-create')
    const { r, events, out } = res
    expectContained(res)
    expectSteps(r, ['symlink /etc/passwd -> /data/link', 'symlink <target> -> /data/link2'], errno(E.PERM), out.stdout)
    expectSteps(r, ['open /data/link', 'open /data/link2'], errno(E.NOENT), out.stdout)
    expectFsEvent(events, 'path_symlink', 'link', /\/etc\/passwd/)
    expectFsEvent(events, 'path_symlink', 'link2')
    await expectNormalRun()
  })

  it('hardlink: a second name inside the mount works; across mounts is EXDEV, of a directory EPERM', async () => {
    const res = await attack('hardlink')
    const { r, events, out } = res
    expectContained(res) // the guest removes the link it made: the host is as before
    expectSteps(r, ['link /data/a.txt /data/b', 'open /data/b', 'unlink /data/b', 'open /data/a.txt'], 'ok', out.stdout)
    expect(out.stdout).toContain('open /data/b read=alpha\\n')
    expect(r.get('link /data/a.txt /other/b')).toBe(errno(E.XDEV))
    expect(r.get('link /data/sub /data/subdir-link')).toBe(errno(E.PERM))
    expect(r.get('stat /other/b')).toBe(errno(E.NOENT))
    expectFsEvent(events, 'path_link', 'a.txt', /across mounts/)
    await expectNormalRun()
  })

  it('symlink-escape: links whose target leaves the mount are EPERM when made, chains that climb out ENOTCAPABLE when followed; the next calls work', async () => {
    const res = await attack('symlink-escape')
    const { r, events, out } = res
    expectContained(res) // the guest removes the links it made: the host is as before
    expectSteps(r, [
      'symlink ../../etc -> /data/up2', 'symlink /etc -> /data/abs', 'symlink .. -> /data/up1', 'symlink sub/../.. -> /data/up3',
      'symlink ../../../etc/passwd -> /data/sub/deep',
    ], errno(E.PERM), out.stdout)
    expect(r.get('symlink ../x -> /ro/rolink')).toBe(errno(E.ROFS))
    // Each link of the chain stays inside on paper; followed together they would climb out.
    expectSteps(r, ['symlink .. -> /data/sub/up', 'symlink sub/up/../../etc/passwd -> /data/chain', 'symlink sub/up/sub/up/.. -> /data/loop-out'], 'ok', out.stdout)
    expectSteps(r, ['open /data/chain', 'opendir /data/loop-out', 'stat /data/chain'], errno(E.NOTCAPABLE), out.stdout)
    expectSteps(r, [
      'symlink sub/b.txt -> /data/inside', 'open /data/inside', 'open /data/sub/up/a.txt',
      'unlink /data/sub/up', 'unlink /data/chain', 'unlink /data/loop-out', 'unlink /data/inside', 'open /data/a.txt',
    ], 'ok', out.stdout)
    expect(out.stdout).toContain('open /data/inside read=beta\\n')
    expect(out.stdout).toContain('open /data/sub/up/a.txt read=alpha\\n')
    expectFsEvent(events, 'path_symlink', 'up2', /leaves the mount \(\.\.\/\.\.\/etc\)/)
    expectFsEvent(events, 'path_symlink', 'abs', /leaves the mount/)
    expectFsEvent(events, 'path_symlink', 'rolink', /read-only/)
    expectFsEvent(events, 'path_open', 'chain', /leaves the preopened directory/)
    await expectNormalRun()
  })

  it('rename-out: renames across mounts are EXDEV, renames out of the mount ENOTCAPABLE; the file stays', async () => {
    const res = await attack('rename-out')
    const { r, events, out } = res
    expectContained(res)
    expect(r.get('rename /data/a.txt /other/a.txt')).toBe(errno(E.XDEV))
    expectSteps(r, [
      'path_rename a.txt ../a.txt', 'path_rename a.txt /a.txt', 'path_rename a.txt sub/../../a.txt', 'path_rename ../x a.txt',
      'rename a.txt ../a.txt from cwd /data',
    ], errno(E.NOTCAPABLE), out.stdout)
    expect(r.get('open /data/a.txt')).toBe('ok')
    expect(out.stdout).toContain('open /data/a.txt read=alpha\\n')
    expect(r.get('stat /other/a.txt')).toBe(errno(E.NOENT))
    expectFsEvent(events, 'path_rename', 'a.txt', /across mounts/)
    await expectNormalRun()
  })

  it('rename-out: renames that leave the mount (.., absolute) are audited like every other denial', async () => {
    const { events } = await attack('rename-out')
    // path_rename(data, "../x", data, "a.txt"): the source leaves the preopen
    expectFsEvent(events, 'path_rename', '../x')
    // path_rename(data, "a.txt", data, "../a.txt") and friends: the destination leaves it
    const outward = events.filter((e) => e.operation === 'path_rename' && !/across mounts/.test(e.detail))
    expect(outward.length, describeEvents(events)).toBeGreaterThanOrEqual(2)
  })

  it('long-path: paths over 4096 bytes are ENAMETOOLONG without being resolved', async () => {
    const res = await attack('long-path')
    const { r, events, out } = res
    expectContained(res)
    expectSteps(r, ['open 10000-byte path', 'create 10000-byte path', 'mkdir 10000-byte path', 'stat 10000-byte path', 'path_open 4097 bytes'], errno(E.NAMETOOLONG), out.stdout)
    if (kind === 'memory') expect(r.get('path_open 4096 bytes')).toBe(errno(E.NOENT)) // at the limit: looked up, not found
    expect(r.get('open /data/a.txt')).toBe('ok')
    expect(out.stdout).toContain('open /data/a.txt read=alpha\\n')
    expectFsEvent(events, 'path_open', undefined, /4096/)
    expectFsEvent(events, 'path_create_directory', undefined, /4096/)
    expectFsEvent(events, 'path_filestat_get', undefined, /4096/)
    // the audit log never stores the oversized path
    for (const e of events) expect(e.path === undefined || new TextEncoder().encode(e.path).length <= 4096).toBe(true)
    await expectNormalRun()
  })

  it('long-path: rename() to or from a 10000-byte path is ENAMETOOLONG too', async () => {
    const { r, out, events } = await attack('long-path')
    expectSteps(r, ['rename a.txt to 10000-byte path', 'rename 10000-byte path to a.txt'], errno(E.NAMETOOLONG), out.stdout)
    expectFsEvent(events, 'path_rename')
  })

  it('nul: a path with an embedded NUL is EINVAL (never truncated at the NUL) and audited', async () => {
    const res = await attack('nul')
    const { r, events, out } = res
    expectContained(res)
    expectSteps(r, ['path_open a.txt\\0../../etc/passwd', 'path_open a.txt\\0', 'path_open sub\\0/b.txt', 'path_open create new\\0.txt'], errno(E.INVAL), out.stdout)
    expect(out.stdout).not.toContain('path_open a.txt\\0 read=')
    expect(r.get('path_open a.txt (control)')).toBe('ok')
    expect(out.stdout).toContain('path_open a.txt (control) read=alpha\\n')
    expect(r.get('stat /data/new')).toBe(errno(E.NOENT))
    for (const path of ['a.txt\0../../etc/passwd', 'a.txt\0', 'sub\0/b.txt', 'new\0.txt']) expectFsEvent(events, 'path_open', path)
    await expectNormalRun()
  })

  it('dir-as-file: a directory opened as a file yields no bytes and takes no writes', async () => {
    const res = await attack('dir-as-file')
    const { r, out } = res
    expectContained(res)
    expect(r.get('open /data/sub O_RDONLY')).toBe('ok')
    expect(out.stdout).toMatch(/^read \/data\/sub: errno=\d+$/m)
    for (const mode of ['O_WRONLY', 'O_RDWR', 'O_WRONLY|O_TRUNC']) {
      if (r.get(`open /data/sub ${mode}`) === 'ok') expect(out.stdout).toMatch(new RegExp(`^write /data/sub \\(${mode.replace('|', '\\|')}\\): errno=\\d+$`, 'm'))
      else expect(r.get(`open /data/sub ${mode}`)).toMatch(/^errno=\d+$/)
    }
    expect(r.get('opendir /data/a.txt')).toBe(errno(E.NOTDIR))
    expect(r.get('stat /data/sub/b.txt')).toBe('ok')
    expect(out.stdout).toContain('stat /data/sub/b.txt size=5\n')
    await expectNormalRun()
  })

  it('dir-as-file: POSIX: read() from a directory and opening one for writing are EISDIR', async () => {
    const { r, out } = await attack('dir-as-file')
    expect(out.stdout).toContain(`read /data/sub: errno=${E.ISDIR}\n`)
    expectSteps(r, ['open /data/sub O_WRONLY', 'open /data/sub O_RDWR', 'open /data/sub O_WRONLY|O_TRUNC'], errno(E.ISDIR), out.stdout)
  })

  it('readonly-write: every kind of write in a read-only mount is EROFS and audited; the files are unchanged', async () => {
    const res = await attack('readonly-write')
    const { r, events, out } = res
    expectContained(res)
    const rofs = errno(E.ROFS)
    // Opening for writing without creating/truncating may be refused at open or at write; either way no byte is written.
    for (const [open, writes] of [['open /ro/a.txt O_WRONLY', ['write /ro/a.txt']], ['open /ro/a.txt O_RDWR', ['pwrite /ro/a.txt', 'ftruncate /ro/a.txt']]] as const) {
      if (r.get(open) === 'ok') expectSteps(r, [...writes], rofs, out.stdout)
      else expect(r.get(open)).toBe(rofs)
    }
    expectSteps(r, [
      'open /ro/a.txt O_WRONLY|O_TRUNC', 'open /ro/a.txt O_WRONLY|O_APPEND', 'open /ro/new.txt O_CREAT', 'truncate /ro/a.txt',
      'unlink /ro/a.txt', 'mkdir /ro/newdir', 'rmdir /ro/sub', 'unlink /ro/sub/b.txt', 'rename /ro/a.txt /ro/c.txt', 'utimes /ro/a.txt',
      'openat /ro/sub created.txt O_CREAT', 'mkdirat /ro/sub newdir',
    ], rofs, out.stdout)
    expect(r.get('rename /ro/a.txt /data/c.txt')).toMatch(new RegExp(`^errno=(${E.ROFS}|${E.XDEV})$`))
    expect(r.get('open /ro/sub O_DIRECTORY')).toBe('ok')
    expect(r.get('open /ro/a.txt')).toBe('ok')
    expect(out.stdout).toContain('open /ro/a.txt read=alpha\\n')
    expect(out.stdout).toMatch(/^opendir \/ro entries=(\.,\.\.,)?(a\.txt,sub,|sub,a\.txt,)$/m)
    const ro = /read-only/
    expectFsEvent(events, 'path_open', 'new.txt', ro)
    expectFsEvent(events, 'path_open', 'a.txt', ro)
    expectFsEvent(events, 'path_unlink_file', 'a.txt', ro)
    expectFsEvent(events, 'path_unlink_file', 'sub/b.txt', ro)
    expectFsEvent(events, 'path_create_directory', 'newdir', ro)
    expectFsEvent(events, 'path_remove_directory', 'sub', ro)
    expectFsEvent(events, 'path_rename', 'a.txt', ro)
    expectFsEvent(events, 'path_filestat_set_times', 'a.txt', ro)
    expectFsEvent(events, 'path_open', 'created.txt', ro)
    await expectNormalRun()
  })

  it('readonly-write: POSIX: open(O_WRONLY) and open(O_RDWR) in a read-only mount fail with EROFS at open', async () => {
    const { r, out } = await attack('readonly-write')
    expectSteps(r, ['open /ro/a.txt O_WRONLY', 'open /ro/a.txt O_RDWR'], errno(E.ROFS), out.stdout)
  })
})

describe('host mounts: symlinks that stay inside but confuse name-based operations', () => {
  let wasm: Fixtures
  const cleanup: string[] = []
  beforeAll(async () => {
    wasm = await buildFixtures()
  })
  afterAll(async () => {
    for (const dir of cleanup) await rm(dir, { recursive: true, force: true })
  })

  async function runOn(mount: string, attack: string): Promise<{ out: CommandOutput; events: SecurityEvent[] }> {
    const sb = await Sandbox.create(wasm.escape!, { wasi: { preopens: { '/data': { host: mount } } } })
    try {
      const out = await sb.runCommand({ args: [attack] })
      return { out, events: sb.audit() }
    } finally {
      await sb.close()
    }
  }

  it('self-link: links resolving to the mount root (self -> ., sub/up -> ..) never let rename/unlink/rmdir reach the same-named entries next to the mount', async () => {
    // base/mount is mounted; base/self, base/self2 and base/up sit just outside it.
    const base = await mkdtemp(join(tmpdir(), 'wasm-sandbox-wasi-selflink-'))
    cleanup.push(base)
    const mount = join(base, 'mount')
    await mkdir(join(mount, 'sub'), { recursive: true })
    await writeFile(join(mount, 'a.txt'), 'alpha\n')
    await symlink('.', join(mount, 'self'))
    await symlink('.', join(mount, 'self2'))
    await symlink('..', join(mount, 'sub/up'))
    await writeFile(join(base, 'self'), `${SECRET}\n`)
    await writeFile(join(base, 'self2'), 'precious\n')
    await mkdir(join(base, 'up'))
    const outsideOnly = async () => Object.fromEntries(Object.entries(await snapshot(base)).filter(([k]) => k !== 'mount' && !k.startsWith('mount/')))
    const before = await outsideOnly()

    const { out } = await runOn(mount, 'self-link')
    const r = steps(out.stdout)
    expect(r.get('open /data/self/a.txt'), out.stdout).toBe('ok') // a link that stays inside works
    // Whatever the rename/unlink/rmdir did to the links themselves, the outside is untouched
    // and the secret next to the mount was not read.
    expect(out.stdout).not.toContain(SECRET)
    expect(await outsideOnly()).toEqual(before)
    expect(await readFile(join(base, 'self'), 'utf8')).toBe(`${SECRET}\n`)
  })

  it('unlink-link: unlink and rename of a symlink act on the link, not on the file it points to', async () => {
    const base = await mkdtemp(join(tmpdir(), 'wasm-sandbox-wasi-unlinklink-'))
    cleanup.push(base)
    await mkdir(join(base, 'docs'))
    await mkdir(join(base, 'notes'))
    await writeFile(join(base, 'notes/readme'), 'readme\n')
    await writeFile(join(base, 'notes/other'), 'other\n')
    await symlink('../notes/readme', join(base, 'docs/readme'))
    await symlink('../notes/other', join(base, 'docs/alias'))

    const { out } = await runOn(base, 'unlink-link')
    const r = steps(out.stdout)
    // the targets are intact and still readable
    expect(existsSync(join(base, 'notes/readme')), `notes/readme was deleted:\n${out.stdout}`).toBe(true)
    expect(await readFile(join(base, 'notes/readme'), 'utf8')).toBe('readme\n')
    expect(await readFile(join(base, 'notes/other'), 'utf8')).toBe('other\n')
    expect(r.get('open /data/notes/readme')).toBe('ok')
    expect(r.get('unlink /data/docs/readme'), out.stdout).toBe('ok')
    expect(r.get('rename /data/docs/alias /data/docs/alias2'), out.stdout).toBe('ok')
    expect(r.get('open /data/notes/other')).toBe('ok')
    // the links moved/went
    expect((await readdir(join(base, 'docs'))).sort()).toEqual(['alias2'])
    expect(await readlink(join(base, 'docs/alias2'))).toBe('../notes/other')
  })
})
