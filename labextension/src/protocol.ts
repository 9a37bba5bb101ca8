/**
 * The messages between the kernel and this sidebar: a mirror of
 * `llm_magics/comm/protocol.py`, field for field. Bump PROTOCOL_VERSION on
 * both sides together.
 */

export const PROTOCOL_VERSION = 2;
export const TARGET = 'llm_magics';
export const ACTIONS = ['status', 'unload', 'cancel', 'clear_cache'] as const;

export type Action = (typeof ACTIONS)[number];

/** What the sidebar asks: `key` names the model to unload, `job_id` the job to cancel. */
export interface IRequest {
  version: number;
  action: Action;
  request_id: string;
  key?: string;
  job_id?: string;
}

/** A loaded model (`state: "loaded"`) or one being loaded (`"loading"`). */
export interface IModelInfo {
  name: string;
  key: string;
  role: string;
  state: 'loaded' | 'loading';
  device: string;
  dtype: string;
  quantization?: string;
  parameters?: number;
  bytes: number;
  load_seconds?: number;
  last_used?: number;
  started?: number;
  source?: string;
  fingerprint?: string;
}

/** One device, in bytes. */
export interface IMemoryInfo {
  device: string;
  total: number;
  used: number;
  free: number;
  budget: number;
  models_bytes: number;
}

export type JobState = 'running' | 'done' | 'cancelled' | 'interrupted' | 'failed';

/**
 * One engine call, or one step of a `%%mine` plan counting its calls' rows;
 * `done`, `total` and `cached` count input rows, `batch` the rows' worth of the
 * running batch done so far. A `foreground` job runs in a notebook cell, so the
 * kernel reads no request until it ends: the sidebar interrupts the kernel to
 * stop it. `stopping`: a stop was asked for and the job has not stopped yet.
 * `note`: one line on how the work went (a cascade's rows routed to the
 * quality model), or null.
 */
export interface IJobInfo {
  id: string;
  primitive: string;
  model: string;
  done: number;
  total: number;
  cached: number;
  rows_per_second: number;
  started: number;
  finished: number | null;
  state: JobState;
  error: string | null;
  note: string | null;
  batch: number;
  foreground: boolean;
  stopping: boolean;
}

/** The result cache on disk. */
export interface ICacheInfo {
  path: string;
  entries: number;
  bytes: number;
}

/** A `%%mine` cell the sidebar can insert. */
export interface ITemplate {
  title: string;
  code: string;
}

/** Everything the sidebar shows, pushed by the kernel. */
export interface IStateMessage {
  type: 'state';
  version: number;
  models: IModelInfo[];
  memory: IMemoryInfo[];
  jobs: IJobInfo[];
  cache: ICacheInfo;
  templates: ITemplate[];
  time: number;
}

/** The answer to one request. */
export interface IReplyMessage {
  type: 'reply';
  version: number;
  request_id: string | null;
  ok: boolean;
  error: string | null;
}

export type KernelMessage = IStateMessage | IReplyMessage;
