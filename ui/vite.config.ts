import { defineConfig } from "vite";

// The shell embeds ui/dist; the UI never reaches the network itself.
export default defineConfig({
  clearScreen: false,
  build: { outDir: "dist", emptyOutDir: true, target: "safari15", sourcemap: false },
});
