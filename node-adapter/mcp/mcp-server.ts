import { createServer, type Server as HttpServer } from 'node:http'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import { SandboxError } from '../../core/index.js'
import { WasmTool, type McpToolSpec } from './tool.js'

export type { McpToolSpec } from './tool.js'

export interface McpServerOptions {
  tools: McpToolSpec[]
  /** What the server calls itself to clients. */
  name?: string
  version?: string
}

/** Guest exports as Model Context Protocol tools; serve it over stdio or streamable HTTP. */
export interface WasmMcpServer {
  /** The tools as `tools/list` gives them. */
  readonly tools: readonly { name: string; description: string; inputSchema: Record<string, unknown> }[]
  /** Serves one client on a transport (stdio, or one of your own). */
  connect(transport: Transport): Promise<void>
  /** Serves on stdin/stdout until stdin closes. */
  serveStdio(): Promise<void>
  /** Streamable HTTP (stateless: every request stands alone) on `path`, default `/mcp`. */
  listen(options?: { port?: number; host?: string; path?: string }): Promise<{ url: string; close(): Promise<void> }>
  close(): Promise<void>
}

/**
 * An MCP server whose tools are guest exports: each call runs on a fresh instance in a
 * sandbox under the tool's policy, and whatever the guest does wrong comes back as a tool
 * error carrying the SandboxError code (`isError: true`) — never as a crash of the server.
 */
export async function createMcpServer(options: McpServerOptions): Promise<WasmMcpServer> {
  if (!Array.isArray(options.tools) || options.tools.length === 0) throw new SandboxError('CONFIG', 'createMcpServer needs at least one tool', { field: 'tools' })
  const names = new Set<string>()
  for (const t of options.tools) {
    if (typeof t?.name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(t.name)) throw new SandboxError('CONFIG', `tool name ${JSON.stringify(t?.name)}: use 1-64 letters, digits, '_', '-' or '.'`, { field: 'tools' })
    if (names.has(t.name)) throw new SandboxError('CONFIG', `two tools are named ${t.name}`, { field: 'tools' })
    names.add(t.name)
  }
  const settled = await Promise.allSettled(options.tools.map((spec) => WasmTool.create(spec)))
  const tools = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (failed) {
    await Promise.all(tools.map((t) => t.close()))
    throw failed.reason
  }
  const byName = new Map(tools.map((t) => [t.name, t]))
  const info = { name: options.name ?? 'wasm-sandbox', version: options.version ?? '0.1.0' }
  const listing = tools.map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema }))
  const servers = new Set<Server>()

  /** A protocol server for one transport; all share the tools (and their pools). */
  const protocolServer = (): Server => {
    const server = new Server(info, { capabilities: { tools: {} } })
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: listing }))
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      const tool = byName.get(request.params.name)
      if (!tool) return toolError(new SandboxError('NO_SUCH_EXPORT', `no tool named ${JSON.stringify(request.params.name)}`, { suggestion: `tools: ${[...byName.keys()].join(', ')}` }))
      try {
        const value = await tool.call(request.params.arguments ?? {})
        return { content: [{ type: 'text', text: JSON.stringify(value ?? null, jsonValue) }] }
      } catch (error) {
        return toolError(error)
      }
    })
    servers.add(server)
    server.onclose = () => servers.delete(server)
    return server
  }

  const httpServers = new Set<HttpServer>()
  return {
    tools: listing,
    async connect(transport) {
      await protocolServer().connect(transport)
    },
    async serveStdio() {
      const transport = new StdioServerTransport()
      const closed = new Promise<void>((resolve) => { transport.onclose = resolve })
      await protocolServer().connect(transport)
      const ended = new Promise<void>((resolve) => process.stdin.once('end', resolve))
      await Promise.race([closed, ended])
    },
    async listen({ port = 0, host = '127.0.0.1', path = '/mcp' } = {}) {
      const http = createServer((req, res) => {
        if (new URL(req.url ?? '/', 'http://x').pathname !== path) {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NOT_FOUND', message: `MCP is served on ${path}` } }))
          return
        }
        if (req.method !== 'POST') { // stateless: no server-initiated streams, no sessions to delete
          res.writeHead(405, { 'content-type': 'application/json', allow: 'POST' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null }))
          return
        }
        const server = protocolServer()
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
        res.on('close', () => { void transport.close(); void server.close() })
        server.connect(transport).then(() => transport.handleRequest(req, res)).catch(() => {
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'internal error' }, id: null }))
        })
      })
      await new Promise<void>((resolve, reject) => { http.once('error', reject); http.listen(port, host, resolve) })
      httpServers.add(http)
      const address = http.address() as { port: number }
      return {
        url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}${path}`,
        close: () => new Promise<void>((resolve) => { httpServers.delete(http); http.close(() => resolve()); http.closeAllConnections() }),
      }
    },
    async close() {
      await Promise.all([...servers].map((s) => s.close()))
      await Promise.all([...httpServers].map((h) => new Promise<void>((resolve) => { h.close(() => resolve()); h.closeAllConnections() })))
      await Promise.all(tools.map((t) => t.close()))
    },
  }
}

/** A guest failure as an MCP tool error: the code first, then what happened (and the limit). */
function toolError(error: unknown): CallToolResult {
  const e = error instanceof SandboxError ? error : new SandboxError('HOST_ERROR', error instanceof Error ? error.message : String(error))
  const detail = e.limit !== undefined ? ` (limit ${e.limit}, used ${e.used ?? '?'})` : ''
  return {
    isError: true,
    content: [{ type: 'text', text: `${e.code}: ${e.message}${detail}${e.suggestion ? ` — ${e.suggestion}` : ''}` }],
    _meta: { 'wasm-sandbox/error': JSON.parse(JSON.stringify(e.toJSON(), jsonValue)) },
  }
}

const jsonValue = (_: string, v: unknown) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v instanceof Uint8Array ? Array.from(v) : v)
