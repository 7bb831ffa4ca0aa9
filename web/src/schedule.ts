/**
 * One DOM write pass per animation frame: data arrives whenever the socket
 * delivers it and is applied to plain objects at once; whoever has something
 * to draw asks for the next frame, and every request made before it runs in
 * that one frame.
 */
const jobs = new Set<() => void>();
let requested = false;

function run() {
  requested = false;
  const now = [...jobs];
  jobs.clear();
  for (const job of now) {
    try {
      job();
    } catch (error) {
      console.error('render job failed', error);
    }
  }
}

/** Runs `job` in the next animation frame, once however often it is asked for before then. */
export function onNextFrame(job: () => void) {
  jobs.add(job);
  if (!requested) {
    requested = true;
    requestAnimationFrame(run);
  }
}
