/**
 * What the sidebar shows, computed from the kernel's messages: no JupyterLab
 * imports here, so it is unit-tested on its own (test/state.test.ts).
 */

import {
  ACTIONS,
  Action,
  IJobInfo,
  IReplyMessage,
  IRequest,
  IStateMessage,
  KernelMessage,
  PROTOCOL_VERSION
} from './protocol';

/** Where the sidebar stands with the active notebook's kernel. */
export type Connection =
  | 'no-notebook' // no notebook is active
  | 'connecting' // a comm is opening, no answer yet
  | 'not-loaded' // the kernel refused the comm: `%load_ext llm_magics` not run
  | 'ready' // state received
  | 'restarting' // the kernel is restarting or reconnecting
  | 'dead'; // the kernel died

export interface IView {
  connection: Connection;
  kernelName: string;
  state: IStateMessage | null;
  error: string | null; // the last refused request or protocol mismatch
  pending: Record<string, IRequest>;
  stopping: string[]; // jobs the user asked to stop, until the kernel says they stopped
  received: number; // the browser's clock (seconds) when `state` arrived
}

export const initialView: IView = {
  connection: 'no-notebook',
  kernelName: '',
  state: null,
  error: null,
  pending: {},
  stopping: [],
  received: 0
};

/** The view after one message from the kernel. */
export function receive(view: IView, message: unknown): IView {
  if (!isMessage(message)) {
    return { ...view, error: 'The kernel sent a message this sidebar cannot read.' };
  }
  if (message.version !== PROTOCOL_VERSION) {
    return {
      ...view,
      error:
        `The kernel speaks protocol ${message.version}, this sidebar ${PROTOCOL_VERSION}: ` +
        'install the same llm_magics release in the kernel and in JupyterLab.'
    };
  }
  if (message.type === 'state') {
    const running = new Set(message.jobs.filter(j => j.state === 'running').map(j => j.id));
    return {
      ...view,
      connection: 'ready',
      state: message,
      stopping: view.stopping.filter(id => running.has(id)),
      received: Date.now() / 1000
    };
  }
  return replied(view, message);
}

function replied(view: IView, reply: IReplyMessage): IView {
  const pending = { ...view.pending };
  if (reply.request_id !== null) {
    delete pending[reply.request_id];
  }
  return { ...view, pending, error: reply.ok ? null : reply.error };
}

function isMessage(message: unknown): message is KernelMessage {
  if (typeof message !== 'object' || message === null) {
    return false;
  }
  const m = message as Record<string, unknown>;
  if (m.type === 'state') {
    return Array.isArray(m.models) && Array.isArray(m.jobs) && Array.isArray(m.memory);
  }
  return m.type === 'reply' && typeof m.ok === 'boolean';
}

let counter = 0;

/** A request for `action`, with a fresh id, and the view that waits for its reply. */
export function request(
  view: IView,
  action: Action,
  fields: { key?: string; job_id?: string } = {}
): [IView, IRequest] {
  if (!(ACTIONS as readonly string[]).includes(action)) {
    throw new Error(`Unknown action ${action}`);
  }
  counter += 1;
  const sent: IRequest = {
    version: PROTOCOL_VERSION,
    action,
    request_id: `r${counter}`,
    ...fields
  };
  return [{ ...view, pending: { ...view.pending, [sent.request_id]: sent } }, sent];
}

/** Whether a request about this model or job is waiting for its reply. */
export function isPending(view: IView, action: Action, id: string): boolean {
  return Object.values(view.pending).some(
    r => r.action === action && (r.key === id || r.job_id === id)
  );
}

/** The view once the user asked to stop `job` (it shows "cancelling…" until the job ends). */
export function stopAsked(view: IView, job: IJobInfo): IView {
  return view.stopping.includes(job.id) ? view : { ...view, stopping: [...view.stopping, job.id] };
}

/** Whether `job` is running but asked to stop, by this sidebar or in the kernel (Ctrl-C). */
export function isStopping(view: IView, job: IJobInfo): boolean {
  return (
    job.state === 'running' &&
    (job.stopping || view.stopping.includes(job.id) || isPending(view, 'cancel', job.id))
  );
}

/** The kernel's clock now: the last state's time plus what the browser's clock says since. */
export function kernelNow(view: IView, browserNow: number = Date.now() / 1000): number {
  if (!view.state) {
    return 0;
  }
  return view.state.time + Math.max(0, browserNow - view.received);
}

/** Running jobs first (newest first), then the finished ones, newest first. */
export function orderedJobs(jobs: IJobInfo[]): IJobInfo[] {
  const byStart = (a: IJobInfo, b: IJobInfo) => b.started - a.started;
  const running = jobs.filter(j => j.state === 'running').sort(byStart);
  const finished = jobs.filter(j => j.state !== 'running').sort(byStart);
  return [...running, ...finished];
}

/**
 * Seconds left at the job's current pace, or null when it cannot be told: before the job's
 * first computed batch has finished, the pace is a guess from the first seconds of a batch (a
 * 200-row summarize said "7.9 h left" and took 9 minutes; a one-batch job "0 s left" under a
 * full bar), so the sidebar says "estimating…" instead.
 */
export function eta(job: IJobInfo): number | null {
  if (job.state !== 'running' || job.rows_per_second <= 0 || job.done <= job.cached) {
    return null;
  }
  return Math.max(0, (job.total - job.done - job.batch) / job.rows_per_second);
}

/** Share of the job done, the running batch's progress included, in [0, 1]. */
export function jobFraction(job: IJobInfo): number {
  return fraction(job.done + (job.state === 'running' ? job.batch : 0), job.total);
}

/** Share of the job done, in [0, 1]. */
export function fraction(done: number, total: number): number {
  return total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1610612736 → "1.5 GiB", 512 → "512 B" (as `llm_magics.units.format_bytes`). */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.trunc(value)} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** 42 → "42 s", 600 → "10 min", 7200 → "2.0 h" (as `llm_magics.units.format_seconds`). */
export function formatSeconds(seconds: number): string {
  if (seconds < 90) {
    return `${Math.round(seconds)} s`;
  }
  if (seconds < 5400) {
    return `${Math.round(seconds / 60)} min`;
  }
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** 2.5 → "2.5 rows/s", 0.02 → "50 s/row": a slow job's pace never reads "0.0 rows/s". */
export function formatRate(rowsPerSecond: number): string {
  return rowsPerSecond >= 1
    ? `${rowsPerSecond.toFixed(1)} rows/s`
    : `${formatSeconds(1 / rowsPerSecond)}/row`;
}

/** How long ago `then` was, on the kernel's clock `now`. */
export function ago(then: number | undefined, now: number): string {
  if (then === undefined) {
    return '';
  }
  return `${formatSeconds(Math.max(0, now - then))} ago`;
}
