# Rego tests of the access policy (run with `bun run policy:test`, as `opa test policies` would).
# Every action × participant owner / participant stranger × service with each scope.
package celine.flexibility.access_test

import data.celine.flexibility.access

actions := ["read", "write", "delete", "respond", "calendar", "webhook", "service", "settle", "export", "record", "erase", "launch_rockets"]

participant(id) := {"id": id, "is_service": false, "scopes": [], "roles": ["participant"]}

service(scopes) := {"id": "svc-optimizer", "is_service": true, "scopes": scopes, "roles": []}

request(subject, name, owner) := {
	"subject": subject,
	"action": {"name": name},
	"resource": {"type": "commitment", "attributes": {"owner_id": owner}},
}

allowed_actions(subject, owner) := {name |
	some name in actions
	access.allow with input as request(subject, name, owner)
}

reason_for(subject, name, owner) := r if {
	r := access.reason with input as request(subject, name, owner)
}

# Participants

test_participant_owner_may_read_write_delete_respond_calendar_webhook if {
	allowed_actions(participant("alice"), "alice") == {"read", "write", "delete", "respond", "calendar", "webhook"}
}

test_participant_stranger_may_do_nothing if {
	allowed_actions(participant("alice"), "bob") == set()
}

test_participant_without_owner_may_do_nothing if {
	allowed := {name |
		some name in actions
		access.allow with input as {"subject": participant("alice"), "action": {"name": name}, "resource": {"type": "commitment", "attributes": {}}}
	}
	allowed == set()
}

test_participant_scopes_do_not_unlock_service_actions if {
	p := object.union(participant("alice"), {"scopes": ["flexibility.admin", "flexibility.commitments.export"]})
	allowed_actions(p, "alice") == {"read", "write", "delete", "respond", "calendar", "webhook"}
}

test_participant_stranger_reason if {
	reason_for(participant("alice"), "read", "bob") == "not resource owner"
}

test_participant_service_actions_reason if {
	every name in ["service", "settle", "export", "record", "erase"] {
		reason_for(participant("alice"), name, "alice") == "action not permitted"
	}
}

# Services, one scope at a time

test_service_commitments_read if {
	allowed_actions(service(["flexibility.commitments.read"]), "bob") == {"read", "service"}
}

test_service_legacy_read_alias if {
	allowed_actions(service(["flexibility.read"]), "bob") == {"read", "service"}
}

test_service_commitments_write if {
	allowed_actions(service(["flexibility.commitments.write"]), "bob") == {"write", "delete", "settle"}
}

test_service_legacy_write_alias if {
	allowed_actions(service(["flexibility.write"]), "bob") == {"write", "delete", "settle"}
}

test_service_admin_everything_but_export if {
	allowed_actions(service(["flexibility.admin"]), "bob") == {"read", "service", "write", "delete", "settle", "record", "erase", "webhook"}
}

test_service_record_needs_admin if {
	access.allow with input as request(service(["flexibility.admin"]), "record", "bob")
	every scopes in [["flexibility.commitments.write"], ["flexibility.write"], ["flexibility.commitments.read", "flexibility.commitments.write", "flexibility.commitments.export"]] {
		not access.allow with input as request(service(scopes), "record", "bob")
		reason_for(service(scopes), "record", "bob") == "missing scope flexibility.admin"
	}
}

test_service_erase_needs_admin if {
	access.allow with input as request(service(["flexibility.admin"]), "erase", "bob")
	every scopes in [["flexibility.commitments.write"], ["flexibility.write"], ["flexibility.commitments.read", "flexibility.commitments.write", "flexibility.commitments.export"]] {
		not access.allow with input as request(service(scopes), "erase", "bob")
		reason_for(service(scopes), "erase", "bob") == "missing scope flexibility.admin"
	}
}

test_service_webhook_needs_admin if {
	access.allow with input as request(service(["flexibility.admin"]), "webhook", "bob")
	every scopes in [[], ["flexibility.commitments.write"], ["flexibility.write"], ["flexibility.commitments.read", "flexibility.commitments.write", "flexibility.commitments.export"]] {
		not access.allow with input as request(service(scopes), "webhook", "bob")
		reason_for(service(scopes), "webhook", "bob") == "missing scope flexibility.admin"
	}
}

test_participant_manages_only_their_own_webhooks if {
	access.allow with input as request(participant("alice"), "webhook", "alice")
	not access.allow with input as request(participant("alice"), "webhook", "bob")
	reason_for(participant("alice"), "webhook", "bob") == "not resource owner"
	not access.allow with input as {"subject": participant("alice"), "action": {"name": "webhook"}, "resource": {"type": "webhook", "attributes": {}}}
}

test_no_webhook_without_a_subject if {
	not access.allow with input as {"subject": null, "action": {"name": "webhook"}, "resource": {"type": "webhook", "attributes": {"owner_id": "alice"}}}
	access.reason with input as {"subject": null, "action": {"name": "webhook"}, "resource": {"type": "webhook", "attributes": {"owner_id": "alice"}}} == "authentication required"
}

test_participant_never_erases_even_themself if {
	not access.allow with input as request(participant("alice"), "erase", "alice")
	reason_for(participant("alice"), "erase", "alice") == "action not permitted"
	p := object.union(participant("alice"), {"scopes": ["flexibility.admin"]})
	not access.allow with input as request(p, "erase", "alice")
}

# Calendar feeds: a participant mints their own feed's URL; the feed is read by its secret, with no subject

feed(subject, name, owner) := {
	"subject": subject,
	"action": {"name": name},
	"resource": {"type": "calendar_feed", "attributes": {"owner_id": owner}},
}

test_participant_mints_only_their_own_feed if {
	access.allow with input as feed(participant("alice"), "calendar", "alice")
	not access.allow with input as feed(participant("alice"), "calendar", "bob")
	access.reason with input as feed(participant("alice"), "calendar", "bob") == "not resource owner"
}

test_no_service_mints_a_feed if {
	every scopes in [[], ["flexibility.admin"], ["flexibility.commitments.write", "flexibility.commitments.read"]] {
		not access.allow with input as feed(service(scopes), "calendar", "bob")
		access.reason with input as feed(service(scopes), "calendar", "bob") == "action not permitted"
	}
}

test_feed_read_by_secret_without_subject if {
	access.allow with input as feed(null, "read", "alice")
	access.reason with input as feed(null, "read", "alice") == "allowed"
}

test_feed_read_by_secret_needs_a_resolved_owner if {
	not access.allow with input as feed(null, "read", "")
	not access.allow with input as feed(null, "read", 7)
	not access.allow with input as {"subject": null, "action": {"name": "read"}, "resource": {"type": "calendar_feed", "attributes": {}}}
	access.reason with input as feed(null, "read", "") == "authentication required"
}

test_without_subject_only_a_feed_is_read if {
	others := [name | some name in actions; name != "read"]
	count(others) == count(actions) - 1
	every name in others {
		not access.allow with input as feed(null, name, "alice")
		access.reason with input as feed(null, name, "alice") == "authentication required"
	}
	every type in ["commitment", "points", "member", "settlement", "calendar_feeds", "Calendar_feed"] {
		not access.allow with input as {"subject": null, "action": {"name": "read"}, "resource": {"type": type, "attributes": {"owner_id": "alice"}}}
	}
}

test_an_absent_subject_reads_no_feed if {
	not access.allow with input as {"action": {"name": "read"}, "resource": {"type": "calendar_feed", "attributes": {"owner_id": "alice"}}}
	access.reason with input as {"action": {"name": "read"}, "resource": {"type": "calendar_feed", "attributes": {"owner_id": "alice"}}} == "authentication required"
}

test_service_export_only if {
	allowed_actions(service(["flexibility.commitments.export"]), "bob") == {"export"}
}

test_service_without_scopes if {
	allowed_actions(service([]), "bob") == set()
}

test_service_unrelated_scopes if {
	allowed_actions(service(["openid", "profile", "flexibility.commitments.readx"]), "bob") == set()
}

test_service_never_responds if {
	every scopes in [["flexibility.admin"], ["flexibility.commitments.write"], ["flexibility.commitments.read"]] {
		not access.allow with input as request(service(scopes), "respond", "svc-optimizer")
	}
}

test_service_missing_scope_reasons if {
	reason_for(service([]), "read", "bob") == "missing scope flexibility.commitments.read"
	reason_for(service([]), "service", "bob") == "missing scope flexibility.commitments.read"
	reason_for(service(["flexibility.commitments.read"]), "write", "bob") == "missing scope flexibility.commitments.write"
	reason_for(service(["flexibility.read"]), "settle", "bob") == "missing scope flexibility.commitments.write"
	reason_for(service(["flexibility.admin"]), "export", "bob") == "missing scope flexibility.commitments.export"
	reason_for(service([]), "record", "bob") == "missing scope flexibility.admin"
	reason_for(service([]), "erase", "bob") == "missing scope flexibility.admin"
	reason_for(service(["flexibility.commitments.read"]), "webhook", "bob") == "missing scope flexibility.admin"
}

test_allowed_reason if {
	reason_for(service(["flexibility.admin"]), "settle", "bob") == "allowed"
	reason_for(participant("alice"), "respond", "alice") == "allowed"
}

# Anonymous, malformed and unknown

test_unknown_action_denied if {
	not access.allow with input as request(service(["flexibility.admin"]), "launch_rockets", "bob")
	reason_for(service(["flexibility.admin"]), "launch_rockets", "bob") == "action not permitted"
	reason_for(participant("alice"), "launch_rockets", "alice") == "action not permitted"
}

test_anonymous_denied if {
	not access.allow with input as request(null, "read", "alice")
	reason_for(null, "read", "alice") == "authentication required"
	r := access.reason with input as {"action": {"name": "read"}, "resource": {"type": "commitment", "attributes": {"owner_id": "alice"}}}
	r == "authentication required"
}

test_subject_without_is_service_denied if {
	s := {"id": "alice", "scopes": ["flexibility.admin"], "roles": []}
	not access.allow with input as request(s, "read", "alice")
	startswith(reason_for(s, "read", "alice"), "invalid subject")
}

test_empty_subject_id_is_anonymous if {
	not access.allow with input as request(participant(""), "read", "")
	reason_for(participant(""), "read", "") == "authentication required"
}

test_group_claims_are_never_read if {
	s := object.union(participant("alice"), {"groups": ["/admins"], "roles": ["admin"]})
	allowed_actions(s, "bob") == set()
}
