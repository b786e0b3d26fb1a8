// Members: what is held about a member, and erasing it.

export { MemberErasure, MemberIdParam } from "../schemas/members.ts";
export { eraseMember } from "./erase-member.ts";
