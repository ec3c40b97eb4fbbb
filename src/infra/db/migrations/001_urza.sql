-- 001_urza: Urza's library (DESIGN §6). The same SQL runs on PostgreSQL and
-- PGlite. Applied inside a transaction by migrate.ts: no BEGIN/COMMIT here.
-- Names are unqualified: they land in the connection's search_path schema.
-- Timestamps are written by the application (millisecond ISO strings), so
-- they read back exactly; JSON is jsonb; lists (tags, reasons) are jsonb
-- arrays, which both drivers pass the same way.

-- Blueprints: SUBMITTED -> COMPILING -> COMPILED | INVALID. Content-addressed
-- by ir_hash (the same IR is stored once); parent_id records lineage.
CREATE TABLE blueprints (
  id              text PRIMARY KEY,
  name            text NOT NULL,
  ir              jsonb NOT NULL,
  ir_hash         text NOT NULL UNIQUE,
  status          text NOT NULL CHECK (status IN ('SUBMITTED', 'COMPILING', 'COMPILED', 'INVALID')),
  tags            jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(tags) = 'array'),
  interface       jsonb NOT NULL,
  interface_key   text NOT NULL,
  submitted_by    text NOT NULL,
  parent_id       text REFERENCES blueprints (id),
  invalid_reasons jsonb,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL
);
CREATE INDEX blueprints_parent_idx ON blueprints (parent_id);
CREATE INDEX blueprints_listing_idx ON blueprints (created_at, id);
CREATE INDEX blueprints_interface_idx ON blueprints (interface_key, status);
CREATE INDEX blueprints_tags_idx ON blueprints USING gin (tags);

-- Kernels: immutable and never deleted, except their status and the summary
-- of their latest validation (PENDING_VALIDATION -> VALIDATED | REJECTED).
CREATE TABLE kernels (
  kernel_id        text PRIMARY KEY,
  blueprint_id     text NOT NULL REFERENCES blueprints (id),
  ir_hash          text NOT NULL,
  compiler_version text NOT NULL,
  backend          text NOT NULL,
  tier             text NOT NULL,
  interface        jsonb NOT NULL,
  interface_key    text NOT NULL,
  param_count      bigint NOT NULL CHECK (param_count >= 0),
  flops            bigint NOT NULL CHECK (flops >= 0),
  memory_bytes     bigint NOT NULL CHECK (memory_bytes >= 0),
  artifact         jsonb NOT NULL,
  status           text NOT NULL CHECK (status IN ('PENDING_VALIDATION', 'VALIDATED', 'REJECTED')),
  risk_score       double precision CHECK (risk_score >= 0 AND risk_score <= 1),
  latency_p50_ms   double precision CHECK (latency_p50_ms >= 0),
  latency_p99_ms   double precision CHECK (latency_p99_ms >= 0),
  validated_at     timestamptz,
  created_at       timestamptz NOT NULL
);
CREATE INDEX kernels_blueprint_idx ON kernels (blueprint_id);
CREATE INDEX kernels_listing_idx ON kernels (created_at, kernel_id);
CREATE INDEX kernels_interface_idx ON kernels (interface_key, status);

CREATE FUNCTION kernels_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'kernels are never deleted (kernel %)', OLD.kernel_id USING ERRCODE = 'restrict_violation';
  END IF;
  IF (NEW.kernel_id, NEW.blueprint_id, NEW.ir_hash, NEW.compiler_version, NEW.backend, NEW.tier, NEW.interface,
      NEW.interface_key, NEW.param_count, NEW.flops, NEW.memory_bytes, NEW.artifact, NEW.created_at)
     IS DISTINCT FROM
     (OLD.kernel_id, OLD.blueprint_id, OLD.ir_hash, OLD.compiler_version, OLD.backend, OLD.tier, OLD.interface,
      OLD.interface_key, OLD.param_count, OLD.flops, OLD.memory_bytes, OLD.artifact, OLD.created_at) THEN
    RAISE EXCEPTION 'kernel % is immutable: only its status and validation may change', OLD.kernel_id USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER kernels_immutable BEFORE UPDATE OR DELETE ON kernels FOR EACH ROW EXECUTE FUNCTION kernels_guard();

-- Append-only tables refuse UPDATE and DELETE.
CREATE FUNCTION append_only_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
END
$$;

-- Validation reports (Urabrask). report_id is the sha256 of the report's
-- canonical JSON, so a redelivered report is stored once.
CREATE TABLE validation_reports (
  report_id  text PRIMARY KEY,
  kernel_id  text NOT NULL REFERENCES kernels (kernel_id),
  job_id     text,
  status     text NOT NULL CHECK (status IN ('VALIDATED', 'REJECTED')),
  risk_score double precision NOT NULL,
  report     jsonb NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX validation_reports_kernel_idx ON validation_reports (kernel_id, created_at);
CREATE TRIGGER validation_reports_append_only BEFORE UPDATE OR DELETE ON validation_reports
  FOR EACH ROW EXECUTE FUNCTION append_only_guard();

-- Field reports (Tamiyo): how a command's seed fared. Deduplicated like
-- validation reports. No foreign keys: a report is never refused.
CREATE TABLE field_reports (
  report_id    text PRIMARY KEY,
  command_id   text NOT NULL,
  run_id       text,
  seed_id      text NOT NULL,
  blueprint_id text NOT NULL,
  kernel_id    text,
  outcome      text NOT NULL,
  report       jsonb NOT NULL,
  created_at   timestamptz NOT NULL
);
CREATE INDEX field_reports_blueprint_idx ON field_reports (blueprint_id, created_at);
CREATE INDEX field_reports_run_idx ON field_reports (run_id, created_at);
CREATE TRIGGER field_reports_append_only BEFORE UPDATE OR DELETE ON field_reports
  FOR EACH ROW EXECUTE FUNCTION append_only_guard();

-- Training runs: the latest status snapshot (a newer one replaces it; an
-- older one, replayed late, is ignored) and the configuration it started with.
CREATE TABLE runs (
  run_id     text PRIMARY KEY,
  state      text NOT NULL,
  node_id    text,
  status     jsonb NOT NULL,
  config     jsonb,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX runs_state_idx ON runs (state);

-- Checkpoint metadata (the bytes are an artifact).
CREATE TABLE checkpoints (
  checkpoint_id text PRIMARY KEY,
  run_id        text NOT NULL,
  epoch         integer NOT NULL CHECK (epoch >= 0),
  global_step   bigint,
  hash          text NOT NULL,
  size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
  reason        text NOT NULL,
  artifact      jsonb,
  created_at    timestamptz NOT NULL
);
CREATE INDEX checkpoints_run_idx ON checkpoints (run_id, epoch, created_at);
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
  FOR EACH ROW EXECUTE FUNCTION append_only_guard();

-- The event store (the audit trail): append-only, ordered per run by a
-- gapless seq (1, 2, 3, ...) assigned under a per-run lock; id is the
-- envelope id, unique, so a redelivered event is stored once. run_id '' holds
-- the events of no run.
CREATE TABLE events (
  run_id         text NOT NULL,
  seq            bigint NOT NULL CHECK (seq >= 1),
  id             text NOT NULL UNIQUE,
  type           text NOT NULL,
  v              integer NOT NULL,
  ts             timestamptz NOT NULL,
  source         text NOT NULL,
  correlation_id text,
  causation_id   text,
  data           jsonb NOT NULL,
  stored_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, seq)
);
CREATE INDEX events_type_idx ON events (type, ts);
CREATE INDEX events_correlation_idx ON events (correlation_id);
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION append_only_guard();
