export { createMcpServer, type McpServerOptions, type McpToolSpec, type WasmMcpServer } from './mcp-server.js'
