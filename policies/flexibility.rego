# Access policy of the CELINE Flexibility API.
#
# Input: {subject: {id, is_service, scopes, roles} | null, action: {name}, resource: {type, attributes: {owner_id?}}}
# Deny by default. Only `allow == true` grants; `reason` is one else-chain, so every decision has exactly one
# reason, most specific first. `roles` are realm roles and no rule grants by role today; group claims are
# never read.
package celine.flexibility.access

default allow := false

# Participants act on what they own, without scopes. `calendar`: minting their own calendar feed's
# secret URL (no scope lets a service do it: a feed is a member's, and services have none). `webhook`:
# managing their own webhook subscriptions (create, list, delete, send a test event).
participant_actions := {"read", "write", "delete", "respond", "calendar", "webhook"}

# Scopes that let a service perform each action. `flexibility.read` / `flexibility.write` are legacy
# aliases of the commitments scopes; export is reachable by its own scope only (admin does not imply it);
# recording a commitment on a member's behalf (`record`) is for operators, who hold flexibility.admin;
# so is erasing everything held about a member (`erase`): never a participant, not even for themself;
# and so is subscribing a webhook to a whole community's events (`webhook`).
service_scopes := {
	"read": {"flexibility.commitments.read", "flexibility.read", "flexibility.admin"},
	"service": {"flexibility.commitments.read", "flexibility.read", "flexibility.admin"},
	"write": {"flexibility.commitments.write", "flexibility.write", "flexibility.admin"},
	"delete": {"flexibility.commitments.write", "flexibility.write", "flexibility.admin"},
	"settle": {"flexibility.commitments.write", "flexibility.write", "flexibility.admin"},
	"export": {"flexibility.commitments.export"},
	"record": {"flexibility.admin"},
	"erase": {"flexibility.admin"},
	"webhook": {"flexibility.admin"},
}

# The scope named in a denial: the canonical one, not an alias.
required_scope := {
	"read": "flexibility.commitments.read",
	"service": "flexibility.commitments.read",
	"write": "flexibility.commitments.write",
	"delete": "flexibility.commitments.write",
	"settle": "flexibility.commitments.write",
	"export": "flexibility.commitments.export",
	"record": "flexibility.admin",
	"erase": "flexibility.admin",
	"webhook": "flexibility.admin",
}

action := input.action.name

authenticated if {
	is_string(input.subject.id)
	input.subject.id != ""
}

is_service if {
	authenticated
	input.subject.is_service == true
}

is_participant if {
	authenticated
	input.subject.is_service == false
}

owns_resource if {
	is_string(input.resource.attributes.owner_id)
	input.resource.attributes.owner_id == input.subject.id
}

# Scopes must be strings inside an array; anything else grants nothing.
granted_scopes contains s if {
	is_array(input.subject.scopes)
	some s in input.subject.scopes
	is_string(s)
}

service_may_act if {
	some s in granted_scopes
	s in service_scopes[action]
}

allow if {
	is_participant
	action in participant_actions
	owns_resource
}

allow if {
	is_service
	service_may_act
}

# A calendar feed is fetched by calendar apps, which cannot send a token: the secret in its URL is the
# credential. The API resolves the secret to its member and asks with no subject (null, not absent) to
# read that member's feed. Nothing else is ever allowed without a subject: another action, another
# resource type, or a feed whose owner was not resolved is "authentication required" as before.
feed_read_by_secret if {
	input.subject == null
	action == "read"
	input.resource.type == "calendar_feed"
	is_string(input.resource.attributes.owner_id)
	input.resource.attributes.owner_id != ""
}

allow if feed_read_by_secret

reason := "allowed" if {
	feed_read_by_secret
} else := "authentication required" if {
	not authenticated
} else := "invalid subject: is_service must be a boolean" if {
	not is_service
	not is_participant
} else := "action not permitted" if {
	is_participant
	not action in participant_actions
} else := "action not permitted" if {
	is_service
	not service_scopes[action]
} else := "not resource owner" if {
	is_participant
	not owns_resource
} else := sprintf("missing scope %s", [required_scope[action]]) if {
	is_service
	not service_may_act
} else := "allowed" if {
	allow
} else := "denied"
