// Stand-in for ComfyUI's scripts/app.js in the harness page: records registered extensions.
export const app = {
  extensions: [],
  graph: null,
  registerExtension(extension) {
    this.extensions.push(extension);
  },
};
