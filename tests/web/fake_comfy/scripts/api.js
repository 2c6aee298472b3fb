// Stand-in for ComfyUI's scripts/api.js in the harness page: an event target with apiURL.
class FakeApi extends EventTarget {
  apiURL(route) {
    return `/api${route}`;
  }
}
export const api = new FakeApi();
