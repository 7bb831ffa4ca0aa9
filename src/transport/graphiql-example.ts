/**
 * What GraphiQL at /graphql opens with: operations a new user can run at once against the simulator's patients
 * (`npm run simulate`), instead of GraphiQL's generic welcome. test/graphiql-example.test.ts keeps them valid.
 */
export const GRAPHIQL_EXAMPLE = `# Vigil: live telemetry over GraphQL. Ctrl-Enter runs the operation under the cursor;
# the Docs panel (the book, left) describes every type, field and argument.
# On a server with API keys, put {"Authorization": "Bearer vgl_…"} in Headers (below).
# Data to look at: npm run simulate -- --scenario deteriorating,dropout

# Patients, their latest vitals, and where to subscribe from (lastReadingCursor)
query Patients {
  sources(kind: PATIENT, first: 20) {
    lastReadingCursor
    edges { node { id name latest { metric value unit time quality } } }
  }
}

# One patient's readings, live (add after: "<lastReadingCursor>" to miss nothing since the read)
subscription LiveVitals {
  readings(sourceIds: ["bed-01"]) { cursor metric time value unit quality }
}

# Open alerts
query OpenAlerts {
  alerts(states: [PENDING, FIRING], first: 20) {
    edges { node { id severity state sourceId message startedAt acknowledgement { by at } } }
  }
}

# Alerts as they happen: raised, updated, escalated, acknowledged, resolved
subscription AlertEvents {
  alerts { seq kind at message alert { id severity state sourceId } }
}
`;
