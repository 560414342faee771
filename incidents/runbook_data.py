"""The content of the incident-response runbook, as data for `seed_runbook`."""

from datetime import timedelta

SEVERITIES = [
    {
        "level": 1,
        "name": "Critical",
        "criteria": "Complete system outage\nSecurity breach\nFinancial loss\nData corruption\nCompliance violation",
        "update_interval": timedelta(minutes=30),
        "postmortem_required": True,
        "stall_after": timedelta(hours=1),
    },
    {
        "level": 2,
        "name": "High",
        "criteria": "Partial service degradation\nPerformance issues affecting users\n"
        "Non-critical security issues\nMinor data loss",
        "update_interval": timedelta(hours=1),
        "postmortem_required": True,
        "stall_after": timedelta(hours=2),
    },
    {
        "level": 3,
        "name": "Medium",
        "criteria": "Minor service issues\nScheduled maintenance problems\n"
        "Low-impact security findings\nMinor configuration issues",
        "update_interval": timedelta(hours=2),
        "postmortem_required": True,
        "stall_after": timedelta(hours=8),
    },
    {
        "level": 4,
        "name": "Low",
        "criteria": "Routine maintenance tasks\nMinor bugs\nDocumentation updates\nFeature requests",
        "update_interval": None,
        "postmortem_required": True,
        "stall_after": timedelta(hours=24),
    },
]

INCIDENT_TYPES = [
    {
        "slug": "trade-execution-failure",
        "name": "Trade execution failures",
        "symptom": [
            "Increased trade failure rate",
            "User reports of missed opportunities",
            "Alert notifications for execution errors",
        ],
        "investigation": [
            "Check executor service logs",
            "Verify blockchain connectivity",
            "Review gas price configurations",
            "Examine transaction simulation results",
            "Check for network congestion",
        ],
        "resolution": [
            "Adjust gas price parameters",
            "Switch to alternative RPC endpoints",
            "Reduce trade frequency temporarily",
            "Implement retry logic",
            "Update transaction signing process",
        ],
    },
    {
        "slug": "signal-processing-delay",
        "name": "Signal processing delays",
        "symptom": [
            "Backlog in signal processing",
            "Delayed trade plan generation",
            "Increased processing latency",
        ],
        "investigation": [
            "Monitor service CPU/memory usage",
            "Check message queue status",
            "Review ML model performance",
            "Examine database query performance",
            "Analyze network connectivity",
        ],
        "resolution": [
            "Scale service instances",
            "Optimize ML model performance",
            "Clear message queue backlogs",
            "Implement load balancing",
            "Upgrade system resources",
        ],
    },
    {
        "slug": "risk-control-block",
        "name": "Risk control blocks",
        "symptom": [
            "Increased number of blocked trades",
            "Alert notifications for risk violations",
            "User reports of trading restrictions",
        ],
        "investigation": [
            "Review risk service logs",
            "Check correlation data sources",
            "Verify risk parameter configurations",
            "Examine recent market conditions",
            "Analyze blocked trade patterns",
        ],
        "resolution": [
            "Adjust risk parameters",
            "Update correlation data",
            "Implement temporary overrides",
            "Review risk model logic",
            "Coordinate with compliance team",
        ],
    },
    {
        "slug": "security-incident",
        "name": "Security incidents",
        "symptom": [
            "Unauthorized access attempts",
            "Suspicious network activity",
            "Alert notifications for security events",
            "Unexplained system behavior",
        ],
        "investigation": [
            "Review security logs",
            "Check access control records",
            "Analyze network traffic",
            "Verify key and secret usage",
            "Examine system integrity",
        ],
        "resolution": [
            "Revoke compromised credentials",
            "Rotate affected keys/secrets",
            "Implement additional security controls",
            "Coordinate with security team",
            "Report to authorities (if required)",
        ],
    },
    {
        "slug": "other",
        "name": "Other",
        "description": "Anything the runbook does not name; follow the general response process.",
        "symptom": [],
        "investigation": [
            "Check service logs",
            "Review monitoring data",
            "Examine recent changes",
            "Interview affected users",
        ],
        "resolution": [
            "Apply approved solution",
            "Monitor for effectiveness",
            "Document changes made",
            "Communicate progress",
        ],
    },
]

ROLES = [
    {
        "slug": "incident-commander",
        "name": "Incident Commander",
        "responsibilities": "Overall incident coordination\nDecision making authority\n"
        "Communication with stakeholders\nResource allocation",
    },
    {
        "slug": "technical-lead",
        "name": "Technical Lead",
        "responsibilities": "Technical investigation\nSolution development\n"
        "Implementation oversight\nRoot cause analysis",
    },
    {
        "slug": "communications-lead",
        "name": "Communications Lead",
        "responsibilities": "Internal/external communication\nStatus updates\n"
        "Stakeholder management\nDocumentation coordination",
    },
    {
        "slug": "support-lead",
        "name": "Support Lead",
        "responsibilities": "User impact assessment\nCustomer communication\n"
        "Support ticket management\nFeedback collection",
    },
]

# (category, name, role slug, phone, email, escalation order)
CONTACTS = [
    ("support", "24/7 Support – Primary", None, "+1-555-0100", "", 1),
    ("support", "24/7 Support – Backup", None, "+1-555-0101", "", 2),
    ("team", "Incident Commander", "incident-commander", "", "ic@snippingbot.com", 1),
    ("team", "Technical Lead", "technical-lead", "", "techlead@snippingbot.com", 2),
    ("team", "Communications Lead", "communications-lead", "", "comms@snippingbot.com", 3),
    ("team", "Support Lead", "support-lead", "", "support@snippingbot.com", 4),
    ("vendor", "Cloud Provider", None, "", "support@cloudprovider.com", 1),
    ("vendor", "Monitoring Service", None, "", "support@monitoring.com", 2),
    ("vendor", "Security Tools", None, "", "support@security.com", 3),
    ("emergency", "CEO", None, "+1-555-0110", "", 1),
    ("emergency", "CTO", None, "+1-555-0111", "", 2),
    ("emergency", "Security Officer", None, "+1-555-0112", "", 3),
]

# (name, audience, kind, target, purpose)
CHANNELS = [
    ("Slack #incidents", "internal", "slack", "#incidents", "Primary channel"),
    ("Email distribution list", "internal", "email", "", "Secondary channel"),
    ("Direct phone", "internal", "phone", "", "Escalation"),
    ("Conference bridge", "internal", "bridge", "", "Coordination"),
    ("Status page", "external", "status_page", "/status/", "Customers"),
    ("Stakeholder email", "external", "email", "", "Stakeholders"),
    ("Social media", "external", "social", "", "Public (if applicable)"),
    ("Regulatory reporting", "external", "regulatory", "", "Regulators (required reporting)"),
]

SERVICES = [
    ("executor", "Trade executor", "Builds, signs and submits trades on chain."),
    ("signal-processing", "Signal processing", "Turns market signals into trade plans."),
    ("risk", "Risk service", "Checks every trade plan against risk limits and correlations."),
    ("ml-models", "ML models", "Scoring models used by signal processing."),
    ("message-queue", "Message queue", "Carries signals and trade plans between services."),
    ("database", "Database", "The trading system's primary database."),
    ("rpc-gateway", "Blockchain RPC gateway", "Connections to blockchain RPC endpoints."),
    ("monitoring", "Monitoring", "Prometheus, Grafana, Alertmanager and the ELK stack."),
]


# The runbook's general steps, in every incident's checklist with its type's own: Initial Response, and the
# general Investigation, Resolution and Post-Incident steps. (kind, text, what the portal itself performs.)
GENERAL_STEPS = [
    ("initial_response", "Acknowledge the incident: assign initial responder", "responder_assigned"),
    ("initial_response", "Acknowledge the incident: create incident ticket", "ticket_created"),
    ("initial_response", "Acknowledge the incident: notify incident response team", "team_notified"),
    ("initial_response", "Assess impact: determine affected services", ""),
    ("initial_response", "Assess impact: estimate user impact", ""),
    ("initial_response", "Assess impact: classify severity level", ""),
    ("initial_response", "Begin documentation: record incident details", ""),
    ("initial_response", "Begin documentation: log initial findings", ""),
    ("initial_response", "Begin documentation: capture relevant metrics", ""),
    ("investigation", "Gather information: check service logs", ""),
    ("investigation", "Gather information: review monitoring data", ""),
    ("investigation", "Gather information: examine recent changes", ""),
    ("investigation", "Gather information: interview affected users", ""),
    ("investigation", "Identify root cause: analyze system behavior", ""),
    ("investigation", "Identify root cause: review recent deployments", ""),
    ("investigation", "Identify root cause: check for external factors", ""),
    ("investigation", "Identify root cause: validate hypotheses", ""),
    ("investigation", "Develop resolution plan: identify potential solutions", ""),
    ("investigation", "Develop resolution plan: assess risks and impacts", ""),
    ("investigation", "Develop resolution plan: select optimal approach", ""),
    ("investigation", "Develop resolution plan: prepare rollback plan", ""),
    ("resolution", "Implement fix: apply approved solution", ""),
    ("resolution", "Implement fix: monitor for effectiveness", ""),
    ("resolution", "Implement fix: document changes made", ""),
    ("resolution", "Implement fix: communicate progress", "status_page_updated"),
    ("resolution", "Verify resolution: confirm issue is resolved", ""),
    ("resolution", "Verify resolution: validate system functionality", ""),
    ("resolution", "Verify resolution: check for side effects", ""),
    ("resolution", "Verify resolution: monitor performance metrics", ""),
    ("resolution", "Communicate status: update stakeholders", ""),
    ("resolution", "Communicate status: provide regular progress reports", ""),
    ("resolution", "Communicate status: announce resolution", ""),
    ("resolution", "Communicate status: schedule post-mortem", ""),
    ("post_incident", "Post-mortem analysis: document root cause", ""),
    ("post_incident", "Post-mortem analysis: identify contributing factors", ""),
    ("post_incident", "Post-mortem analysis: review response effectiveness", ""),
    ("post_incident", "Post-mortem analysis: define preventive measures", ""),
    ("post_incident", "Follow-up actions: implement preventive measures", ""),
    ("post_incident", "Follow-up actions: update documentation", ""),
    ("post_incident", "Follow-up actions: train team members", ""),
    ("post_incident", "Follow-up actions: close incident ticket", ""),
]


# Starting drafts for status updates, per audience and phase ("" = any phase without its own template):
# (audience, phase, body). Placeholders: {reference}, {title}, {severity}, {phase}, {services}, {user_impact},
# {next_update}, {bridge_url}. Staff edit them in the admin (Update templates) once loaded.
UPDATE_TEMPLATES = [
    (
        "internal",
        "",
        "{reference} ({severity}) – {phase}: {title}\n"
        "Affected services: {services}\n"
        "Impact: {user_impact}\n"
        "Current status: <what we know and what we are doing>\n"
        "Bridge: {bridge_url}\n"
        "Next update by {next_update}.",
    ),
    (
        "internal",
        "detected",
        "{reference} ({severity}) declared: {title}\n"
        "Affected services: {services}\n"
        "Impact so far: {user_impact}\n"
        "Responders: join the bridge at {bridge_url}. Next update by {next_update}.",
    ),
    (
        "internal",
        "resolved",
        "{reference} ({severity}) is resolved: {title}\n"
        "How it was fixed: <resolution>\n"
        "Follow-up: post-mortem to be scheduled.",
    ),
    (
        "stakeholders",
        "",
        "Incident {reference} ({severity}): {title}\n"
        "Business impact: {user_impact}\n"
        "Status: {phase}. <one or two sentences on progress and expected resolution>\n"
        "Next update by {next_update}.",
    ),
    (
        "stakeholders",
        "resolved",
        "Incident {reference} ({severity}) is resolved: {title}\n"
        "Business impact: {user_impact}\n"
        "A post-mortem will follow.",
    ),
    (
        "customers",
        "",
        "We are investigating an issue affecting {services}. <what customers may notice>\n"
        "We will post another update by {next_update}.",
    ),
    (
        "customers",
        "mitigating",
        "We have identified the cause of the issue affecting {services} and are applying a fix. "
        "We will post another update by {next_update}.",
    ),
    (
        "customers",
        "resolved",
        "The issue affecting {services} has been resolved. <what customers should do, if anything> "
        "We apologise for the disruption.",
    ),
    (
        "regulators",
        "",
        "Incident {reference}, severity {severity}, status {phase}.\n"
        "Description: {title}\n"
        "Affected services: {services}\n"
        "Impact on clients: {user_impact}\n"
        "Measures taken: <measures>\n"
        "Next report by: {next_update}.",
    ),
]
