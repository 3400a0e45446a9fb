/**
 * The playground, built as it ships (vite build) and driven in Debian's Chromium through
 * playwright-core. Every test leaves a screenshot in test-results/playground/.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { build } from 'vite'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { normalizeOptions, SandboxError } from 'wasm-sandbox/core'
import { launchChromium, serveStatic } from '../test/browser/chromium.mjs'

const ROOT = join(import.meta.dirname, '../playground')
const SHOTS = join(import.meta.dirname, '../test-results/playground')

describe('playground in Chromium', () => {
  let browser: Browser
  let site: { url: string; server: import('node:http').Server }
  let context: BrowserContext
  let page: Page
  let problems: string[]

  beforeAll(async () => {
    await build({ configFile: join(ROOT, 'vite.config.ts'), logLevel: 'error' })
    await mkdir(SHOTS, { recursive: true })
    browser = await launchChromium()
    site = await serveStatic(join(ROOT, 'dist'), true)
  }, 180_000)
  afterAll(async () => {
    await browser?.close()
    site?.server.close()
  })

  async function open(url = site.url): Promise<Page> {
    context = await browser.newContext({ serviceWorkers: 'block' })
    page = await context.newPage()
    problems = []
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()) })
    page.on('pageerror', (e) => problems.push(e.message))
    await page.goto(url)
    await page.getByTestId('exports').waitFor()
    return page
  }
  afterEach(async (test) => {
    if (page && !page.isClosed()) await page.screenshot({ path: join(SHOTS, `${test.task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 80)}.png`), fullPage: true })
    await context?.close()
    expect(problems, 'console errors').toEqual([])
  })

  const run = async () => {
    await page.getByTestId('run').click()
    await page.waitForFunction(() => document.querySelector('[data-testid="run"]')?.getAttribute('aria-busy') !== 'true', undefined, { timeout: 30_000 })
  }
  const choose = async (id: string) => {
    await page.getByTestId('gallery').selectOption(id)
    await page.getByTestId('run').and(page.locator(':enabled')).waitFor()
    // the module compiles after a short pause; wait until its exports are listed
    await page.waitForFunction(() => !!document.querySelector('[data-testid="exports"] li') || !!document.querySelector('[data-testid="module-summary"]'))
    await page.waitForTimeout(400)
  }

  it('runs every gallery example and shows its result, usage and audit log', async () => {
    await open()
    const expectations: [string, (p: Page) => Promise<void>][] = [
      ['add-fib', async (p) => expect(await p.getByTestId('result').textContent()).toBe('102334155')],
      ['infinite-loop', async (p) => expect(await p.getByTestId('error-code').textContent()).toBe('FUEL_EXHAUSTED')],
      ['memory-bomb', async (p) => expect(await p.getByTestId('error-code').textContent()).toBe('MEMORY_LIMIT')],
      ['wasi-hello', async (p) => expect(await p.getByTestId('stdout').textContent()).toBe('hello, playground')],
      ['wasi-file', async (p) => {
        expect(await p.getByTestId('stdout').textContent()).toBe('Notes from a virtual file.\n')
        expect(await p.getByTestId('audit').textContent()).toContain('../secret')
      }],
      ['json', async (p) => expect(JSON.parse((await p.getByTestId('result').textContent())!)).toEqual({ GREETING: 'HELLO', TO: ['WASM', 'WORLD'] })],
      ['component', async (p) => expect(await p.getByTestId('result').textContent()).toBe('hello, playground')],
    ]
    for (const [id, check] of expectations) {
      await choose(id)
      await run()
      await check(page)
      expect(await page.getByTestId('fuel-used').textContent(), id).toMatch(/^\d+/)
      await page.screenshot({ path: join(SHOTS, `example-${id}.png`), fullPage: true })
    }
  }, 120_000)

  it('shows a text error at its line, and the line button selects it', async () => {
    await open()
    const editor = page.getByTestId('editor')
    await editor.fill('(module\n  (func (export "f") (result i32)\n    (i32.bogus 1)))')
    const error = page.getByTestId('compile-error')
    await error.waitFor()
    expect(await error.textContent()).toMatch(/^Line 3: invalid WebAssembly text at line 3/)
    expect(await editor.getAttribute('aria-invalid')).toBe('true')
    expect(await page.getByTestId('run').isDisabled()).toBe(true)
    expect(await page.locator('.cm-error-line').innerText()).toBe('    (i32.bogus 1)))') // marked in the editor
    await error.getByRole('button').click()
    expect(await page.evaluate(() => document.getSelection()?.toString())).toBe('    (i32.bogus 1)))')
  })

  it('an infinite loop ends in FUEL_EXHAUSTED, and with unlimited fuel in TIMEOUT while the page stays responsive', async () => {
    await open()
    await choose('infinite-loop')
    await run()
    expect(await page.getByTestId('error-code').textContent()).toBe('FUEL_EXHAUSTED')
    expect(await page.getByTestId('error-limit').textContent()).toBe('1,000,000')
    await page.getByTestId('policy-fuel').fill('unlimited')
    await page.getByTestId('run').click()
    // While the guest spins in its worker, the page answers at once.
    const started = Date.now()
    await page.getByTestId('editor').press('End')
    expect(await page.evaluate(() => 1 + 1)).toBe(2)
    expect(Date.now() - started).toBeLessThan(1500)
    await page.waitForFunction(() => document.querySelector('[data-testid="error-code"]')?.textContent === 'TIMEOUT', undefined, { timeout: 20_000 })
    await choose('add-fib')
    await run()
    expect(await page.getByTestId('result').textContent()).toBe('102334155')
  }, 60_000)

  it('runs an uploaded .wasm file and describes it', async () => {
    await open()
    const wasm = Buffer.from('0061736d0100000001070160027f7f017f030201000707010373756d00000a09010700200020016a0b', 'hex')
    await page.getByTestId('file-input').setInputFiles({ name: 'sum.wasm', mimeType: 'application/wasm', buffer: wasm })
    await page.getByTestId('uploaded').waitFor()
    await page.waitForFunction(() => document.querySelector('[data-testid="exports"]')?.textContent?.includes('sum'))
    expect(await page.getByTestId('module-summary').textContent()).toBe('41 B, a core module')
    await page.getByTestId('mode').selectOption('call')
    await page.getByTestId('arg-0').fill('40')
    await page.getByTestId('arg-1').fill('2')
    await run()
    expect(await page.getByTestId('result').textContent()).toBe('42')
    await page.getByText('Disassembly').click()
    await page.waitForFunction(() => document.querySelector('[data-testid="disassembly"]')?.textContent?.includes('i32.add'))
  })

  it('validates the policy with the library\'s own messages', async () => {
    await open()
    await page.getByTestId('policy-memory').fill('64 mb')
    const shown = page.getByTestId('error-memory')
    await shown.waitFor()
    let expected = ''
    try {
      normalizeOptions({ memory: '64 mb' })
    } catch (error) {
      expected = (error as SandboxError).message // it ends with the suggestion: shown once
      expect(expected).toContain((error as SandboxError).suggestion)
    }
    expect(expected).toContain("'64MB'")
    expect(await shown.textContent()).toBe(expected)
    expect(await page.getByTestId('run').isDisabled()).toBe(true)
    await page.getByTestId('policy-memory').fill('64MB')
    await shown.waitFor({ state: 'detached' })
    expect(await page.getByTestId('run').isDisabled()).toBe(false)
  })

  it('a share link reproduces the module text and policy', async () => {
    await open()
    await choose('json')
    await page.getByTestId('editor').fill((await page.getByTestId('editor').innerText()).replace('upper turns', 'upper (shared) turns'))
    await page.getByTestId('policy-fuel').fill('5000')
    await page.getByTestId('share').click()
    const link = await page.getByTestId('share-link').inputValue()
    expect(link).toMatch(/#s=[A-Za-z0-9_-]+$/)
    await context.close()
    await open(link)
    expect(await page.getByTestId('editor').innerText()).toContain('upper (shared) turns')
    expect(await page.getByTestId('policy-fuel').inputValue()).toBe('5000')
    await run()
    expect(await page.getByTestId('result').textContent()).toContain('GREETING')
  })

  it('a running call shows its elapsed time and the Stop button cancels it', async () => {
    await open()
    await choose('infinite-loop')
    await page.getByTestId('policy-fuel').fill('unlimited')
    await page.getByTestId('policy-timeout').fill('60s')
    await page.getByTestId('run').click()
    await page.waitForFunction(() => Number.parseFloat(document.querySelector('[data-testid="elapsed"]')?.textContent ?? '0') > 0)
    await page.getByTestId('stop').click()
    await page.waitForFunction(() => document.querySelector('[data-testid="error-code"]')?.textContent === 'CANCELLED', undefined, { timeout: 20_000 })
    expect(await page.getByTestId('stop').count()).toBe(0)
  }, 60_000)

  it('results are cleared when the module changes; the chart keeps calls across policy changes, failed ones marked', async () => {
    await open()
    await run()
    await page.getByTestId('policy-fuel').fill('10')
    await run()
    expect(await page.getByTestId('error-code').textContent()).toBe('FUEL_EXHAUSTED')
    await page.getByTestId('policy-fuel').fill('')
    await run()
    expect(await page.getByTestId('result').textContent()).toBe('102334155')
    expect(await page.getByTestId('fuel-used').textContent()).toMatch(/^\d{1,3}(,\d{3})* of 1,000,000,000$/)
    expect(await page.locator('[data-testid="bar"]').count()).toBe(3)
    expect(await page.locator('[data-testid="bar"].failed').count()).toBe(1)
    expect(await page.getByTestId('chart').getAttribute('aria-label')).toContain('(FUEL_EXHAUSTED)')
    await page.getByTestId('editor').fill((await page.getByTestId('editor').innerText()) + '\n')
    await page.getByTestId('result').waitFor({ state: 'detached' })
    expect(await page.getByTestId('chart').count()).toBe(0)
    expect(await page.locator('.blurb').count()).toBe(0)
  }, 60_000)

  it('every control has a label and the page works from the keyboard', async () => {
    await open()
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')].filter((el) => {
      const e = el as HTMLInputElement
      const name = (e.labels?.length ? [...e.labels].map((l) => l.textContent).join(' ') : '') || e.getAttribute('aria-label') || (e.tagName === 'BUTTON' ? e.textContent : '')
      return !name?.trim()
    }).map((el) => el.outerHTML.slice(0, 80)))
    expect(unlabelled).toEqual([])
    // Tab to the Run button and press Enter.
    await page.getByTestId('arg-0').focus()
    let tabs = 0
    while (await page.evaluate(() => document.activeElement?.getAttribute('data-testid')) !== 'run' && tabs++ < 20) await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')
    await page.getByTestId('result').waitFor()
    expect(await page.getByTestId('result').textContent()).toBe('102334155')
  })

  it('works offline after the first load, and a static host without COOP/COEP gets isolation from the service worker', async () => {
    const plain = await serveStatic(join(ROOT, 'dist'), false)
    try {
      context = await browser.newContext()
      page = await context.newPage()
      problems = []
      page.on('pageerror', (e) => problems.push(e.message))
      await page.goto(plain.url)
      // The worker installs, then the page reloads itself once through it.
      await page.waitForFunction(() => crossOriginIsolated === true, undefined, { timeout: 20_000 })
      await page.getByTestId('exports').waitFor()
      await context.setOffline(true)
      await page.reload()
      await page.getByTestId('exports').waitFor()
      await run()
      expect(await page.getByTestId('result').textContent()).toBe('102334155')
    } finally {
      plain.server.close()
    }
  }, 60_000)
})

