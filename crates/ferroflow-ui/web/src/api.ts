// The REST calls the UI makes: MLflow's API under relative `ajax-api/` URLs (so the UI works under
// any path prefix), with typed answers. A failed call throws ApiError with the server's code and
// message, which the pages show where the call was made.

import { quote } from './format';

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

export type KeyValue = { key: string; value: string };
export type Experiment = {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage: string;
  creation_time?: number;
  last_update_time?: number;
  tags?: KeyValue[];
};
export type Metric = { key: string; value: number | string; timestamp: number; step: number; run_id?: string };
export type RunInfo = {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status: string;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage: string;
};
export type DatasetInput = {
  dataset: { name: string; digest: string; source_type?: string; source?: string; schema?: string; profile?: string };
  tags?: KeyValue[];
};
export type Run = {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] };
  inputs?: { dataset_inputs?: DatasetInput[]; model_inputs?: { model_id: string }[] };
  outputs?: { model_outputs?: { model_id: string; step: number }[] };
};
export type LoggedModel = {
  info: { model_id: string; name: string; experiment_id: string; source_run_id?: string; status?: string; model_type?: string; artifact_uri?: string; creation_timestamp_ms?: number };
};
export type FileInfo = { path: string; is_dir: boolean; file_size?: number | string };
export type ModelVersion = {
  name: string;
  version: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  current_stage?: string;
  description?: string;
  source?: string;
  run_id?: string;
  status?: string;
  tags?: KeyValue[];
  aliases?: string[];
};
export type RegisteredModel = {
  name: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  latest_versions?: ModelVersion[];
  tags?: KeyValue[];
  aliases?: { alias: string; version: string }[];
};

export type ResourceType = 'experiment' | 'registered_model';
export type User = {
  username: string;
  is_admin: boolean;
  experiment_permissions?: { experiment_id: string; permission: string }[];
  registered_model_permissions?: { name: string; permission: string }[];
};

/** A grant as users/current/permissions lists it: on one resource or on `*`. */
export type Grant = { resource_type: ResourceType; resource_pattern: string; permission: string };
export type Query = Record<string, string | number | boolean | undefined | (string | number)[]>;

export function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === '') continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** The CSRF token of the web session, from its script-readable cookie ('' when signed out). */
function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)ferroflow_csrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : '';
}

/** Told when a call finds the session over (a 401), so the sign-in page can take over. */
export const SIGNED_OUT = 'ferroflow:signed-out';

export async function call<T>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
  // X-Requested-With keeps the browser's own Basic prompt away: the UI has its sign-in page. A
  // change carries the session's CSRF token, without which the server refuses it.
  const headers: Record<string, string> = { 'X-Requested-With': 'ferroflow', ...extraHeaders };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken();
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json: any = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { message: text };
  }
  if (!response.ok) {
    const message = json.message ?? `${response.status} ${response.statusText}`;
    if (response.status === 401 && !extraHeaders.Authorization) window.dispatchEvent(new Event(SIGNED_OUT));
    throw new ApiError(response.status, json.error_code ?? 'INTERNAL_ERROR', message);
  }
  return json as T;
}

const mlflow = (endpoint: string) => `ajax-api/2.0/mlflow/${endpoint}`;
const get = <T>(endpoint: string, query: Query = {}) => call<T>('GET', mlflow(endpoint) + queryString(query));
const post = <T>(endpoint: string, body: unknown) => call<T>('POST', mlflow(endpoint), body);

export type Page<T> = { items: T[]; next?: string };

/** What the page served by ferroflow says of access control: `off`, or the default permission. */
export function accessControlTag(): string | null {
  return document.querySelector('meta[name="ferroflow-access-control"]')?.getAttribute('content') ?? null;
}

export const api = {
  searchExperiments: async (q: { filter?: string; view_type?: string; page_token?: string; max_results?: number }) => {
    const r = await post<{ experiments?: Experiment[]; next_page_token?: string }>('experiments/search', {
      max_results: 1000, order_by: ['last_update_time DESC'], ...q,
    });
    return { items: r.experiments ?? [], next: r.next_page_token } as Page<Experiment>;
  },
  getExperiment: async (id: string) => (await get<{ experiment: Experiment }>('experiments/get', { experiment_id: id })).experiment,
  createExperiment: (name: string) => post<{ experiment_id: string }>('experiments/create', { name }),
  renameExperiment: (id: string, name: string) => post('experiments/update', { experiment_id: id, new_name: name }),
  deleteExperiment: (id: string) => post('experiments/delete', { experiment_id: id }),
  restoreExperiment: (id: string) => post('experiments/restore', { experiment_id: id }),
  setExperimentTag: (id: string, key: string, value: string) =>
    post('experiments/set-experiment-tag', { experiment_id: id, key, value }),
  deleteExperimentTag: (id: string, key: string) => post('experiments/delete-experiment-tag', { experiment_id: id, key }),

  searchRuns: async (q: { experiment_ids: string[]; filter?: string; order_by?: string[]; page_token?: string; max_results?: number; run_view_type?: string }) => {
    const r = await post<{ runs?: Run[]; next_page_token?: string }>('runs/search', { max_results: 1000, ...q });
    return { items: r.runs ?? [], next: r.next_page_token } as Page<Run>;
  },
  getRun: async (id: string) => (await get<{ run: Run }>('runs/get', { run_id: id })).run,
  setRunTag: (id: string, key: string, value: string) => post('runs/set-tag', { run_id: id, key, value }),
  deleteRunTag: (id: string, key: string) => post('runs/delete-tag', { run_id: id, key }),
  renameRun: (id: string, name: string) => post('runs/update', { run_id: id, run_name: name }),
  deleteRun: (id: string) => post('runs/delete', { run_id: id }),
  restoreRun: (id: string) => post('runs/restore', { run_id: id }),
  getLoggedModel: async (id: string) =>
    (await get<{ model: LoggedModel }>(`logged-models/${encodeURIComponent(id)}`)).model,

  /** A metric's history, downsampled by the server to at most `points` per run. */
  metricHistory: async (runIds: string[], key: string, points: number, range?: [number, number]) => {
    const r = await get<{ metrics?: Metric[] }>('metrics/get-history-bulk-interval', {
      run_ids: runIds, metric_key: key, max_results: points,
      start_step: range ? Math.floor(range[0]) : undefined, end_step: range ? Math.ceil(range[1]) : undefined,
    });
    return r.metrics ?? [];
  },

  searchModels: async (q: { filter?: string; page_token?: string; max_results?: number }) => {
    const r = await get<{ registered_models?: RegisteredModel[]; next_page_token?: string }>('registered-models/search', {
      max_results: 100, order_by: 'name ASC', ...q,
    });
    return { items: r.registered_models ?? [], next: r.next_page_token } as Page<RegisteredModel>;
  },
  getModel: async (name: string) => (await get<{ registered_model: RegisteredModel }>('registered-models/get', { name })).registered_model,
  updateModel: (name: string, description: string) => call('PATCH', mlflow('registered-models/update'), { name, description }),
  setModelTag: (name: string, key: string, value: string) => post('registered-models/set-tag', { name, key, value }),
  deleteModelTag: (name: string, key: string) => call('DELETE', mlflow('registered-models/delete-tag'), { name, key }),
  searchVersions: async (name: string) => {
    const r = await get<{ model_versions?: ModelVersion[] }>('model-versions/search', {
      filter: `name = '${name.replace(/'/g, "\\'")}'`, max_results: 1000, order_by: 'version_number DESC',
    });
    return r.model_versions ?? [];
  },
  /** The registered versions made from a run's artifacts. */
  versionsOfRun: async (runId: string) => {
    const r = await get<{ model_versions?: ModelVersion[] }>('model-versions/search', {
      filter: `run_id = ${quote(runId)}`, max_results: 100,
    });
    return r.model_versions ?? [];
  },
  getVersion: async (name: string, version: string) =>
    (await get<{ model_version: ModelVersion }>('model-versions/get', { name, version })).model_version,
  updateVersion: (name: string, version: string, description: string) =>
    call('PATCH', mlflow('model-versions/update'), { name, version, description }),
  transitionStage: (name: string, version: string, stage: string, archive: boolean) =>
    post('model-versions/transition-stage', { name, version, stage, archive_existing_versions: archive }),
  setAlias: (name: string, alias: string, version: string) => post('registered-models/alias', { name, alias, version }),
  deleteAlias: (name: string, alias: string) =>
    call('DELETE', mlflow('registered-models/alias') + queryString({ name, alias })),
  setVersionTag: (name: string, version: string, key: string, value: string) =>
    post('model-versions/set-tag', { name, version, key, value }),

  /**
   * With access control on, what a user without a grant may do; null with it off. The page served
   * by ferroflow says so in a meta tag; a page served otherwise (the dev server) asks server-info.
   */
  defaultPermission: async () => {
    const tagged = accessControlTag();
    if (tagged) return tagged === 'off' ? null : tagged;
    const info = await call<{ ferroflow?: { access_control?: boolean; default_permission?: string } }>('GET', 'ajax-api/3.0/mlflow/server-info');
    return info.ferroflow?.access_control === true ? info.ferroflow.default_permission ?? 'READ' : null;
  },
  /** The signed-in user, and whether they may read the audit log (admins and the `auditor` group). */
  currentUser: async () => {
    const r = await get<{ user: User; is_auditor?: boolean }>('users/current');
    return { user: r.user, isAuditor: r.is_auditor === true };
  },
  /** The grants that apply to the signed-in user: their own and their groups', `*` included. */
  currentGrants: async () =>
    (await call<{ permissions?: Grant[] }>('GET', 'ajax-api/3.0/mlflow/users/current/permissions')).permissions ?? [],
  /** Starts a web session: the server sets its cookies. */
  signIn: async (username: string, password: string) => {
    const credentials = btoa(String.fromCharCode(...new TextEncoder().encode(`${username}:${password}`)));
    return (await call<{ user: User }>('POST', 'ajax-api/2.0/ferroflow/session/login', undefined, { Authorization: `Basic ${credentials}` })).user;
  },
  signOut: () => call('POST', 'ajax-api/2.0/ferroflow/session/logout'),

  /**
   * Lists a directory of a run's artifacts (`path` from the run's root; '' for the root), wherever
   * they are stored: in the server's proxy, or in a bucket or directory the server can read.
   */
  listRunArtifacts: async (runId: string, path: string) => {
    const r = await call<{ files?: FileInfo[] }>('GET', `ajax-api/2.0/mlflow/artifacts/list${queryString({ run_id: runId, path })}`);
    return r.files ?? [];
  },
};

/** The URL that downloads one file of a run's artifacts (MLflow's UI route), as an attachment. */
export function runArtifactUrl(runId: string, path: string): string {
  return `get-artifact${queryString({ run_uuid: runId, path })}`;
}

/** The URL that downloads one file of a registered version's model (MLflow's UI route). */
export function modelVersionFileUrl(name: string, version: string, path: string): string {
  return `model-versions/get-artifact${queryString({ name, version, path })}`;
}


