/** Vite build of the InvokeAI web UI into the Python package, plus the unit-test (Vitest) setup. */
import { defineConfig } from 'vitest/config';

// The dev server forwards the protocol and images to a running `invokeai --web --web_develop`.
const backend = process.env.INVOKEAI_BACKEND ?? 'http://127.0.0.1:9090';

export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: '../invokeai_gui/frontend/dist',
    emptyOutDir: true,
    // The bundle is committed: content-hashed names only, nothing time-dependent.
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      output: {
        entryFileNames: 'assets/[name]-[hash].js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: 'assets/[name]-[hash][extname]',
      },
    },
  },
  server: {
    proxy: {
      '/socket.io': { target: backend, ws: true },
      '/outputs': backend,
      '/healthz': backend,
    },
  },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
  },
});
