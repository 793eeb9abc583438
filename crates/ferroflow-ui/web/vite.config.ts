import { defineConfig } from 'vite';

// FERROFLOW_UI_OUT_DIR is set by the crate's build script; `npm run dev` proxies the API to a
// server on FERROFLOW_UI_DEV_SERVER (default http://127.0.0.1:5000).
const server = process.env.FERROFLOW_UI_DEV_SERVER ?? 'http://127.0.0.1:5000';

export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: process.env.FERROFLOW_UI_OUT_DIR ?? 'dist',
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: { proxy: { '/ajax-api': server, '/api': server } },
});
