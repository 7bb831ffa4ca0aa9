/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** How history combines each bucket's readings into one value: every stored reading of the series counts, whatever its quality, unless history's qualities names some. */
export type Aggregate =
  /** The mean of the bucket's readings. */
  | 'AVG'
  /** How many readings the bucket holds (0 for an empty bucket when filled). */
  | 'COUNT'
  /** The value of the bucket's earliest reading by measurement time. */
  | 'FIRST'
  /** The value of the bucket's latest reading by measurement time. */
  | 'LAST'
  /** The highest of the bucket's readings. */
  | 'MAX'
  /** The lowest of the bucket's readings. */
  | 'MIN';

/** What an alert rule evaluates; decides which of the rule's other fields apply. */
export type AlertRuleKind =
  /** The patient's National Early Warning Score 2 from the latest six vitals: fires MEDIUM at a single parameter scoring 3, HIGH at a total of 5 and CRITICAL at 7; a change of level while firing is an UPDATED transition. Sets its own severity. Resolves once the risk has stayed LOW for `clearAfter` (default 5m). */
  | 'NEWS2'
  /** Signal lost: a source (or one `metric` of it) that has sent no GOOD reading for longer than `expectedInterval` (BAD and SUSPECT ones are no signal); resolves when a GOOD one comes back. Checked by the clock, every ALERT_CHECK_INTERVAL; a retired source raises none. */
  | 'NO_DATA'
  /** A rise larger than `rise`, or a drop larger than `drop`, of one metric within `window`, held for `for`. */
  | 'RATE_OF_CHANGE'
  /** An aggregate of one metric (LAST, or AVG/MIN/MAX over a trailing `window`) above `above` or below `below` for `for`; a firing alert resolves only back past `clear` (hysteresis). */
  | 'THRESHOLD';

/** Where an alert is in its lifecycle: PENDING, then FIRING, then RESOLVED (a breach that ends while PENDING goes straight to RESOLVED). */
export type AlertState =
  /** Raised: the breach held for the rule's `for`, or at once without one. Escalates unless acknowledged (see Severity). */
  | 'FIRING'
  /** Breaching, but not yet for as long as the rule's `for` asks: becomes FIRING once the breach has held that long, or RESOLVED if it lapses first. A rule without `for`, NEWS2 and NO_DATA fire at once, without this state. */
  | 'PENDING'
  /** Over, for good (a new breach opens a new alert): the condition cleared (THRESHOLD back past `clear`, RATE_OF_CHANGE no longer breached, NEWS2 risk back to LOW: each for the rule's `clearAfter` when it has one; NO_DATA a GOOD reading back), its rule was deleted, its rule was disabled or changed so that it no longer covers the alert (at the series' next reading; a NO_DATA alert of a changed rule at once, of a disabled one when data comes back), or a NO_DATA alert's source was retired. */
  | 'RESOLVED';

/** What history answers for buckets without readings. Fills use only the buckets of the queried range: nothing is carried in from before it. With COUNT, LOCF and INTERPOLATE both give every bucket and an empty one counts 0. Fills end with the bucket holding now (the database's clock): an empty bucket after it is left out, as with NONE, so that nothing is carried, interpolated or counted 0 into a time not yet come. */
export type Fill =
  /** Every bucket of the range; an empty one gets the value on the straight line between the nearest buckets with readings before and after it, null where the range has none on one side. */
  | 'INTERPOLATE'
  /** Every bucket of the range; an empty one carries the value of the nearest earlier bucket with readings (last observation carried forward), null before the first one in the range. */
  | 'LOCF'
  /** Only buckets that hold readings; empty ones are left out of the answer. */
  | 'NONE';

/** The clinical risk a NEWS2 score means (Royal College of Physicians, 2017), from its total and its highest single parameter score. */
export type News2Risk =
  /** Total 7 or more: emergency response. A NEWS2 rule fires at CRITICAL severity. */
  | 'HIGH'
  /** Total 0-4 and no single parameter scoring 3. Raises no alert; resolves a firing NEWS2 alert. */
  | 'LOW'
  /** Total 0-4 with a single parameter scoring 3. A NEWS2 rule fires at MEDIUM severity. */
  | 'LOW_MEDIUM'
  /** Total 5-6: urgent response. A NEWS2 rule fires at HIGH severity. */
  | 'MEDIUM';

/** How far a reading can be trusted. Windows, anomaly flags, NEWS2 and alert rules use GOOD readings only; history aggregates every stored reading. */
export type Quality =
  /** Flagged unusable by the sender (ingest never sets it). Stored and listed. */
  | 'BAD'
  /** Sent as GOOD (or without quality) and plausible: within the metric's catalog range, and a whole number where the metric takes one. */
  | 'GOOD'
  /** Outside the metric's plausible range (or not a whole number where it must be), so marked at ingest; or so flagged by the sender. Stored and listed, never dropped. */
  | 'SUSPECT';

/** How urgent an alert is, in order LOW < MEDIUM < HIGH < CRITICAL. A rule sets it (default HIGH; NEWS2 by the patient's risk). A FIRING alert nobody acknowledges within ESCALATE_AFTER is raised one level, and one more after each further ESCALATE_AFTER, up to CRITICAL (not while its source is retired or its rule disabled); a new evaluation never lowers it below the level escalation reached, and above that level it follows the evaluation. */
export type Severity =
  /** The highest level. A NEWS2 alert at HIGH risk (total 7 or more, emergency); an unacknowledged HIGH alert escalates to it, and escalation stops here. */
  | 'CRITICAL'
  /** Above MEDIUM; the default of a rule. A NEWS2 alert at MEDIUM risk (total 5-6, urgent); an unacknowledged MEDIUM alert escalates to it. */
  | 'HIGH'
  /** The lowest level. Only a rule set to LOW gives it: NEWS2 and escalation never do. */
  | 'LOW'
  /** Above LOW. A NEWS2 alert at LOW_MEDIUM risk (a single parameter scoring 3); an unacknowledged LOW alert escalates to it. */
  | 'MEDIUM';

/** What a source is: PATIENT and DEVICE send readings, INSTRUMENT trades. */
export type SourceKind =
  /** Equipment that sends readings (a monitor, a pump). A device may be registered again as a PATIENT, and back. */
  | 'DEVICE'
  /** A traded symbol; takes trades (ingestTrades), never readings. A symbol becomes the instrument of the tenant that registers it as one or is the first to trade it, and never changes kind. */
  | 'INSTRUMENT'
  /** A person whose vitals are measured; sends readings. The dashboard's ward wall shows a tile for each patient in use. */
  | 'PATIENT';

export type DashReadingFragment = { cursor: string, sourceId: string, metric: string, time: string, value: number, unit: string, quality: Quality };

export type DashAlertFragment = { id: string, ruleId: string, sourceId: string, metric: string | null, state: AlertState, severity: Severity, value: number | null, message: string, startedAt: string, firedAt: string | null, resolvedAt: string | null, escalatedAt: string | null, acknowledgement: { by: string, at: string, note: string | null } | null };

export type DashNews2Fragment = { sourceId: string, time: string, total: number, risk: News2Risk, parameters: Array<{ metric: string, value: number, score: number, time: string | null }> };

export type DashCandleFragment = { symbol: string, interval: string, start: string, end: string, open: number, high: number, low: number, close: number, volume: number, trades: number, closed: boolean };

export type DashWindowFragment = { sourceId: string, metric: string, window: string, start: string, end: string, count: number, avg: number, min: number, max: number, closed: boolean };

export type DashMetricsQueryVariables = Exact<{ [key: string]: never; }>;


export type DashMetricsQuery = { metrics: Array<{ name: string, unit: string, min: number, max: number, description: string }> };

export type DashSourcesQueryVariables = Exact<{
  kind?: SourceKind | null | undefined;
  ids?: Array<string | number> | string | number | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type DashSourcesQuery = { sources: { lastReadingCursor: string, edges: Array<{ node: { id: string, kind: SourceKind, name: string, latest: Array<{ cursor: string, sourceId: string, metric: string, time: string, value: number, unit: string, quality: Quality }> } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type DashSourceNamesQueryVariables = Exact<{
  ids?: Array<string | number> | string | number | null | undefined;
  first?: number | null | undefined;
}>;


export type DashSourceNamesQuery = { sources: { edges: Array<{ node: { id: string, kind: SourceKind, name: string } }> } };

export type DashPatientIdsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type DashPatientIdsQuery = { sources: { edges: Array<{ node: { id: string } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type DashLiveReadingsSubscriptionVariables = Exact<{
  sourceIds?: Array<string | number> | string | number | null | undefined;
  metrics?: Array<string> | string | null | undefined;
  after?: string | null | undefined;
}>;


export type DashLiveReadingsSubscription = { readings: Array<{ cursor: string, sourceId: string, metric: string, time: string, value: number, unit: string, quality: Quality }> };

export type DashRecentReadingsQueryVariables = Exact<{
  sourceIds?: Array<string | number> | string | number | null | undefined;
  metrics?: Array<string> | string | null | undefined;
  from?: string | null | undefined;
  to?: string | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type DashRecentReadingsQuery = { readings: { edges: Array<{ node: { cursor: string, sourceId: string, metric: string, time: string, value: number, unit: string, quality: Quality } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type DashHistoryQueryVariables = Exact<{
  sourceId: string | number;
  metric: string;
  from: string;
  to: string;
  bucket: string;
  aggregate?: Aggregate | null | undefined;
  fill?: Fill | null | undefined;
}>;


export type DashHistoryQuery = { history: Array<{ bucket: string, value: number | null }> };

export type DashLiveWindowsSubscriptionVariables = Exact<{
  sourceIds?: Array<string | number> | string | number | null | undefined;
  metrics?: Array<string> | string | null | undefined;
  windows?: Array<string> | string | null | undefined;
}>;


export type DashLiveWindowsSubscription = { windows: Array<{ sourceId: string, metric: string, window: string, start: string, end: string, count: number, avg: number, min: number, max: number, closed: boolean }> };

export type DashNews2ScoresQueryVariables = Exact<{
  sourceIds?: Array<string | number> | string | number | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type DashNews2ScoresQuery = { news2Scores: { edges: Array<{ node: { sourceId: string, time: string, total: number, risk: News2Risk, parameters: Array<{ metric: string, value: number, score: number, time: string | null }> } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type DashLiveNews2SubscriptionVariables = Exact<{
  sourceIds?: Array<string | number> | string | number | null | undefined;
}>;


export type DashLiveNews2Subscription = { news2: Array<{ sourceId: string, time: string, total: number, risk: News2Risk, parameters: Array<{ metric: string, value: number, score: number, time: string | null }> }> };

export type DashAlertRulesQueryVariables = Exact<{ [key: string]: never; }>;


export type DashAlertRulesQuery = { alertRules: Array<{ id: string, name: string, kind: AlertRuleKind, metric: string | null, severity: Severity, enabled: boolean }> };

export type DashAlertsQueryVariables = Exact<{
  states?: Array<AlertState> | AlertState | null | undefined;
  severities?: Array<Severity> | Severity | null | undefined;
  sourceIds?: Array<string | number> | string | number | null | undefined;
  from?: string | null | undefined;
  to?: string | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type DashAlertsQuery = { alerts: { lastEventSeq: string, edges: Array<{ node: { id: string, ruleId: string, sourceId: string, metric: string | null, state: AlertState, severity: Severity, value: number | null, message: string, startedAt: string, firedAt: string | null, resolvedAt: string | null, escalatedAt: string | null, acknowledgement: { by: string, at: string, note: string | null } | null } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type DashLiveAlertsSubscriptionVariables = Exact<{
  states?: Array<AlertState> | AlertState | null | undefined;
  severities?: Array<Severity> | Severity | null | undefined;
  sourceIds?: Array<string | number> | string | number | null | undefined;
  after?: string | null | undefined;
}>;


export type DashLiveAlertsSubscription = { alerts: Array<{ kind: string, seq: string, at: string, actor: string | null, message: string, alert: { id: string, ruleId: string, sourceId: string, metric: string | null, state: AlertState, severity: Severity, value: number | null, message: string, startedAt: string, firedAt: string | null, resolvedAt: string | null, escalatedAt: string | null, acknowledgement: { by: string, at: string, note: string | null } | null } }> };

export type DashAlertDetailQueryVariables = Exact<{
  id: string | number;
}>;


export type DashAlertDetailQuery = { alert: { id: string, ruleId: string, sourceId: string, metric: string | null, state: AlertState, severity: Severity, value: number | null, message: string, startedAt: string, firedAt: string | null, resolvedAt: string | null, escalatedAt: string | null, transitions: Array<{ kind: string, severity: Severity, at: string, eventTime: string | null, value: number | null, message: string, actor: string | null }>, acknowledgement: { by: string, at: string, note: string | null } | null } | null };

export type DashAcknowledgeAlertMutationVariables = Exact<{
  id: string | number;
  by: string;
  note?: string | null | undefined;
}>;


export type DashAcknowledgeAlertMutation = { acknowledgeAlert: { id: string, ruleId: string, sourceId: string, metric: string | null, state: AlertState, severity: Severity, value: number | null, message: string, startedAt: string, firedAt: string | null, resolvedAt: string | null, escalatedAt: string | null, acknowledgement: { by: string, at: string, note: string | null } | null } };

export type DashCandlesQueryVariables = Exact<{
  symbol: string;
  interval: string;
  from: string;
  to: string;
  closedOnly?: boolean | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type DashCandlesQuery = { candles: { edges: Array<{ node: { symbol: string, interval: string, start: string, end: string, open: number, high: number, low: number, close: number, volume: number, trades: number, closed: boolean } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type DashLiveCandlesSubscriptionVariables = Exact<{
  symbols?: Array<string> | string | null | undefined;
  intervals?: Array<string> | string | null | undefined;
}>;


export type DashLiveCandlesSubscription = { candles: Array<{ symbol: string, interval: string, start: string, end: string, open: number, high: number, low: number, close: number, volume: number, trades: number, closed: boolean }> };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const DashReadingFragmentDoc = new TypedDocumentString(`
    fragment DashReading on Reading {
  cursor
  sourceId
  metric
  time
  value
  unit
  quality
}
    `, {"fragmentName":"DashReading"}) as unknown as TypedDocumentString<DashReadingFragment, unknown>;
export const DashAlertFragmentDoc = new TypedDocumentString(`
    fragment DashAlert on Alert {
  id
  ruleId
  sourceId
  metric
  state
  severity
  value
  message
  startedAt
  firedAt
  resolvedAt
  escalatedAt
  acknowledgement {
    by
    at
    note
  }
}
    `, {"fragmentName":"DashAlert"}) as unknown as TypedDocumentString<DashAlertFragment, unknown>;
export const DashNews2FragmentDoc = new TypedDocumentString(`
    fragment DashNews2 on News2Score {
  sourceId
  time
  total
  risk
  parameters {
    metric
    value
    score
    time
  }
}
    `, {"fragmentName":"DashNews2"}) as unknown as TypedDocumentString<DashNews2Fragment, unknown>;
export const DashCandleFragmentDoc = new TypedDocumentString(`
    fragment DashCandle on Candle {
  symbol
  interval
  start
  end
  open
  high
  low
  close
  volume
  trades
  closed
}
    `, {"fragmentName":"DashCandle"}) as unknown as TypedDocumentString<DashCandleFragment, unknown>;
export const DashWindowFragmentDoc = new TypedDocumentString(`
    fragment DashWindow on WindowAggregate {
  sourceId
  metric
  window
  start
  end
  count
  avg
  min
  max
  closed
}
    `, {"fragmentName":"DashWindow"}) as unknown as TypedDocumentString<DashWindowFragment, unknown>;
export const DashMetricsDocument = new TypedDocumentString(`
    query DashMetrics {
  metrics {
    name
    unit
    min
    max
    description
  }
}
    `) as unknown as TypedDocumentString<DashMetricsQuery, DashMetricsQueryVariables>;
export const DashSourcesDocument = new TypedDocumentString(`
    query DashSources($kind: SourceKind, $ids: [ID!], $first: Int, $after: String) {
  sources(kind: $kind, ids: $ids, first: $first, after: $after) {
    edges {
      node {
        id
        kind
        name
        latest {
          ...DashReading
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
    lastReadingCursor
  }
}
    fragment DashReading on Reading {
  cursor
  sourceId
  metric
  time
  value
  unit
  quality
}`) as unknown as TypedDocumentString<DashSourcesQuery, DashSourcesQueryVariables>;
export const DashSourceNamesDocument = new TypedDocumentString(`
    query DashSourceNames($ids: [ID!], $first: Int) {
  sources(ids: $ids, first: $first) {
    edges {
      node {
        id
        kind
        name
      }
    }
  }
}
    `) as unknown as TypedDocumentString<DashSourceNamesQuery, DashSourceNamesQueryVariables>;
export const DashPatientIdsDocument = new TypedDocumentString(`
    query DashPatientIds($first: Int, $after: String) {
  sources(kind: PATIENT, first: $first, after: $after) {
    edges {
      node {
        id
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `) as unknown as TypedDocumentString<DashPatientIdsQuery, DashPatientIdsQueryVariables>;
export const DashLiveReadingsDocument = new TypedDocumentString(`
    subscription DashLiveReadings($sourceIds: [ID!], $metrics: [String!], $after: String) {
  readings(sourceIds: $sourceIds, metrics: $metrics, after: $after) {
    ...DashReading
  }
}
    fragment DashReading on Reading {
  cursor
  sourceId
  metric
  time
  value
  unit
  quality
}`) as unknown as TypedDocumentString<DashLiveReadingsSubscription, DashLiveReadingsSubscriptionVariables>;
export const DashRecentReadingsDocument = new TypedDocumentString(`
    query DashRecentReadings($sourceIds: [ID!], $metrics: [String!], $from: DateTime, $to: DateTime, $first: Int, $after: String) {
  readings(
    sourceIds: $sourceIds
    metrics: $metrics
    from: $from
    to: $to
    first: $first
    after: $after
  ) {
    edges {
      node {
        ...DashReading
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    fragment DashReading on Reading {
  cursor
  sourceId
  metric
  time
  value
  unit
  quality
}`) as unknown as TypedDocumentString<DashRecentReadingsQuery, DashRecentReadingsQueryVariables>;
export const DashHistoryDocument = new TypedDocumentString(`
    query DashHistory($sourceId: ID!, $metric: String!, $from: DateTime!, $to: DateTime!, $bucket: String!, $aggregate: Aggregate, $fill: Fill) {
  history(
    sourceId: $sourceId
    metric: $metric
    from: $from
    to: $to
    bucket: $bucket
    aggregate: $aggregate
    fill: $fill
  ) {
    bucket
    value
  }
}
    `) as unknown as TypedDocumentString<DashHistoryQuery, DashHistoryQueryVariables>;
export const DashLiveWindowsDocument = new TypedDocumentString(`
    subscription DashLiveWindows($sourceIds: [ID!], $metrics: [String!], $windows: [String!]) {
  windows(sourceIds: $sourceIds, metrics: $metrics, windows: $windows) {
    ...DashWindow
  }
}
    fragment DashWindow on WindowAggregate {
  sourceId
  metric
  window
  start
  end
  count
  avg
  min
  max
  closed
}`) as unknown as TypedDocumentString<DashLiveWindowsSubscription, DashLiveWindowsSubscriptionVariables>;
export const DashNews2ScoresDocument = new TypedDocumentString(`
    query DashNews2Scores($sourceIds: [ID!], $first: Int, $after: String) {
  news2Scores(sourceIds: $sourceIds, first: $first, after: $after) {
    edges {
      node {
        ...DashNews2
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    fragment DashNews2 on News2Score {
  sourceId
  time
  total
  risk
  parameters {
    metric
    value
    score
    time
  }
}`) as unknown as TypedDocumentString<DashNews2ScoresQuery, DashNews2ScoresQueryVariables>;
export const DashLiveNews2Document = new TypedDocumentString(`
    subscription DashLiveNews2($sourceIds: [ID!]) {
  news2(sourceIds: $sourceIds) {
    ...DashNews2
  }
}
    fragment DashNews2 on News2Score {
  sourceId
  time
  total
  risk
  parameters {
    metric
    value
    score
    time
  }
}`) as unknown as TypedDocumentString<DashLiveNews2Subscription, DashLiveNews2SubscriptionVariables>;
export const DashAlertRulesDocument = new TypedDocumentString(`
    query DashAlertRules {
  alertRules {
    id
    name
    kind
    metric
    severity
    enabled
  }
}
    `) as unknown as TypedDocumentString<DashAlertRulesQuery, DashAlertRulesQueryVariables>;
export const DashAlertsDocument = new TypedDocumentString(`
    query DashAlerts($states: [AlertState!], $severities: [Severity!], $sourceIds: [ID!], $from: DateTime, $to: DateTime, $first: Int, $after: String) {
  alerts(
    states: $states
    severities: $severities
    sourceIds: $sourceIds
    from: $from
    to: $to
    first: $first
    after: $after
  ) {
    edges {
      node {
        ...DashAlert
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
    lastEventSeq
  }
}
    fragment DashAlert on Alert {
  id
  ruleId
  sourceId
  metric
  state
  severity
  value
  message
  startedAt
  firedAt
  resolvedAt
  escalatedAt
  acknowledgement {
    by
    at
    note
  }
}`) as unknown as TypedDocumentString<DashAlertsQuery, DashAlertsQueryVariables>;
export const DashLiveAlertsDocument = new TypedDocumentString(`
    subscription DashLiveAlerts($states: [AlertState!], $severities: [Severity!], $sourceIds: [ID!], $after: String) {
  alerts(
    states: $states
    severities: $severities
    sourceIds: $sourceIds
    after: $after
  ) {
    kind
    seq
    at
    actor
    message
    alert {
      ...DashAlert
    }
  }
}
    fragment DashAlert on Alert {
  id
  ruleId
  sourceId
  metric
  state
  severity
  value
  message
  startedAt
  firedAt
  resolvedAt
  escalatedAt
  acknowledgement {
    by
    at
    note
  }
}`) as unknown as TypedDocumentString<DashLiveAlertsSubscription, DashLiveAlertsSubscriptionVariables>;
export const DashAlertDetailDocument = new TypedDocumentString(`
    query DashAlertDetail($id: ID!) {
  alert(id: $id) {
    ...DashAlert
    transitions {
      kind
      severity
      at
      eventTime
      value
      message
      actor
    }
  }
}
    fragment DashAlert on Alert {
  id
  ruleId
  sourceId
  metric
  state
  severity
  value
  message
  startedAt
  firedAt
  resolvedAt
  escalatedAt
  acknowledgement {
    by
    at
    note
  }
}`) as unknown as TypedDocumentString<DashAlertDetailQuery, DashAlertDetailQueryVariables>;
export const DashAcknowledgeAlertDocument = new TypedDocumentString(`
    mutation DashAcknowledgeAlert($id: ID!, $by: String!, $note: String) {
  acknowledgeAlert(id: $id, by: $by, note: $note) {
    ...DashAlert
  }
}
    fragment DashAlert on Alert {
  id
  ruleId
  sourceId
  metric
  state
  severity
  value
  message
  startedAt
  firedAt
  resolvedAt
  escalatedAt
  acknowledgement {
    by
    at
    note
  }
}`) as unknown as TypedDocumentString<DashAcknowledgeAlertMutation, DashAcknowledgeAlertMutationVariables>;
export const DashCandlesDocument = new TypedDocumentString(`
    query DashCandles($symbol: String!, $interval: String!, $from: DateTime!, $to: DateTime!, $closedOnly: Boolean, $first: Int, $after: String) {
  candles(
    symbol: $symbol
    interval: $interval
    from: $from
    to: $to
    closedOnly: $closedOnly
    first: $first
    after: $after
  ) {
    edges {
      node {
        ...DashCandle
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    fragment DashCandle on Candle {
  symbol
  interval
  start
  end
  open
  high
  low
  close
  volume
  trades
  closed
}`) as unknown as TypedDocumentString<DashCandlesQuery, DashCandlesQueryVariables>;
export const DashLiveCandlesDocument = new TypedDocumentString(`
    subscription DashLiveCandles($symbols: [String!], $intervals: [String!]) {
  candles(symbols: $symbols, intervals: $intervals) {
    ...DashCandle
  }
}
    fragment DashCandle on Candle {
  symbol
  interval
  start
  end
  open
  high
  low
  close
  volume
  trades
  closed
}`) as unknown as TypedDocumentString<DashLiveCandlesSubscription, DashLiveCandlesSubscriptionVariables>;