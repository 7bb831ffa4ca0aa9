import type { Db } from '../db/client.js';
import { listRules } from '../db/alerts.js';
import { outageLog, type Logger } from '../log.js';
import type { AlertRule } from '../processors/alert-rules.js';
import type { PatientStay } from '../processors/stays.js';
import { sourceStays } from '../db/sources.js';
import type { PubSub } from '../pubsub/pubsub.js';
import { toProcessorRule, type StoredRule } from './rule-params.js';

export const RULES_CHANGED_CHANNEL = 'alert-rules';

/**
 * The enabled alert rules (and patients' stays), as the running processors and the signal monitor
 * see them. A change made on any node is announced on pub/sub so every node
 * reloads at once; a periodic reload covers a lost announcement.
 */
const NO_RULES: readonly AlertRule[] = [];

export class RuleRegistry {
  /** Rules for the alerts processor by tenant; a new map on every change. */
  private rulesByTenant = new Map<string, readonly AlertRule[]>();
  /** Enabled NO_DATA rules with when they last changed: silence counts from then at the earliest. */
  noDataRules: readonly (StoredRule & { updatedAt: Date })[] = [];
  /** Every rule, disabled ones too, by id: what the signal monitor checks its open alerts' rules against. */
  private rulesById = new Map<string, StoredRule>();
  private stays = new Map<string, PatientStay>();
  private timer: NodeJS.Timeout | undefined;
  private generation = 0;
  private unsubscribe: (() => Promise<void>) | undefined;
  // Reloaded every reloadIntervalMs: through an outage, a line at its start and one at its end.
  private readonly outage: ReturnType<typeof outageLog>;

  constructor(
    private readonly options: { db: Db; pubsub: PubSub; log: Logger; reloadIntervalMs: number },
  ) {
    this.outage = outageLog(options.log, 'alert rules reload (the rules in force are kept meanwhile)');
  }

  async start(): Promise<void> {
    await this.reload();
    this.unsubscribe = await this.options.pubsub.subscribe(RULES_CHANGED_CHANNEL, () => void this.reloadLogged());
    this.timer = setInterval(() => void this.reloadLogged(), this.options.reloadIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.unsubscribe?.().catch(() => undefined);
  }

  async reload(): Promise<void> {
    // Reloads can overlap (timer, announcement, a local change); only the newest one's result is kept.
    const generation = ++this.generation;
    const [all, stays] = await Promise.all([listRules(this.options.db), sourceStays(this.options.db)]);
    // Any reload that reads the rules ends an outage, a change's included.
    this.outage.succeeded();
    if (generation !== this.generation) return;
    const rules = all.filter((r) => r.enabled);
    this.rulesById = new Map(all.map((r) => [r.id, r]));
    this.stays = new Map(stays.map((s) => [s.id, { retiredAt: s.retiredAt?.getTime() ?? null, admittedAt: s.admittedAt?.getTime() ?? null }]));
    const byTenant = new Map<string, AlertRule[]>();
    for (const rule of rules) {
      const processorRule = toProcessorRule(rule);
      if (processorRule) byTenant.set(rule.tenantId, [...(byTenant.get(rule.tenantId) ?? []), processorRule]);
    }
    this.rulesByTenant = byTenant;
    this.noDataRules = rules.filter((r) => r.kind === 'NO_DATA');
  }

  /**
   * Where a patient is in its stays (discharged, readmitted), as the alerts processor reads it with each reading;
   * undefined for one never retired. Reloaded with the rules, and announced the same way by retireSources and a
   * readmission.
   */
  stayOf(sourceId: string): PatientStay | undefined {
    return this.stays.get(sourceId);
  }

  /** A rule as it stands, enabled or not; undefined once deleted. */
  ruleOf(id: string): StoredRule | undefined {
    return this.rulesById.get(id);
  }

  /** The enabled rules the alerts processor applies to a tenant's readings. */
  processorRulesOf(tenantId: string): readonly AlertRule[] {
    return this.rulesByTenant.get(tenantId) ?? NO_RULES;
  }

  /** After a create, update or delete: this node now, the others through pub/sub. */
  async changed(): Promise<void> {
    await this.reload();
    await this.options.pubsub.publish(RULES_CHANGED_CHANNEL, 'changed').catch((error: unknown) =>
      this.options.log.warn({ err: (error as Error).message }, 'could not announce an alert rule change; other nodes pick it up at their next reload'),
    );
  }

  private async reloadLogged() {
    await this.reload().catch((error: unknown) => this.outage.failed(error));
  }
}
