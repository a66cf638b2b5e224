"""Approval processes: ProcessInstance, its steps, and the work items of undecided ones."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pyarrow as pa

from ..ids import make_id
from ..metadata import OBJECTS_BY_NAME
from .base import DAY, World, ms
from .columns import TableBuilder

APPROVAL_COMMENTS = (
    "Discount within policy.",
    "Approved, strategic account for the region.",
    "Margin is fine after the revised quote.",
    "OK to proceed, legal reviewed the terms.",
)
REJECTION_COMMENTS = (
    "Margin too low, rework pricing.",
    "Needs a signed NDA before we can quote.",
)

# One in this many approvals, the most recently submitted, still waits for its approver.
PENDING_SHARE = 8

# A ProcessInstanceStep as simulated: status, actor's user id, epoch second, comment, step node id.
_Step = tuple[str, str, int, str | None, str | None]


@dataclass
class _Request:
    """One approval request as simulated, written out once the family is complete."""

    instance_id: str
    submitter: str
    target_id: str
    submitted: int
    steps: list[_Step]
    status: str
    pending_actor: int | None
    approvers: list[int]


class Approvals:
    """Builds the approval objects of one family; ``submit`` simulates one approval request."""

    def __init__(self) -> None:
        self.instances = TableBuilder(OBJECTS_BY_NAME["processinstance"])
        self.steps = TableBuilder(OBJECTS_BY_NAME["processinstancestep"])
        self.workitems = TableBuilder(OBJECTS_BY_NAME["processinstanceworkitem"])
        self.requests: list[_Request] = []

    def tables(self, org: World) -> dict[str, pa.Table]:
        """Write every request, leaving the most recent ones waiting for their approver."""
        decided = [r for r in self.requests if r.status != "Pending"]
        recent = sorted(decided, key=lambda r: r.submitted)[
            -max(1, len(decided) // PENDING_SHARE) :
        ]
        for request in self.requests:
            if request in recent and request.status != "Pending":
                # Not answered yet: the instance stays Pending with a work item for the first
                # approver, and only the submission (Started) is a step. Decided after the whole
                # family is simulated, so the random stream, and the rest of the org, is unchanged.
                request.steps = request.steps[:1]
                request.status, request.pending_actor = "Pending", request.approvers[0]
            self._write(org, request)
        return {
            "ProcessInstance": self.instances.to_table(),
            "ProcessInstanceStep": self.steps.to_table(assign_ids=True, sort_by="CreatedDate"),
            "ProcessInstanceWorkitem": self.workitems.to_table(),
        }

    def submit(
        self, org: World, rng: random.Random, owner: int, target_id: str, submitted: int
    ) -> None:
        """A discount approval: a Started step, then one or two approver decisions."""
        instance_id = make_id("04g", len(self.requests) + 1)
        submitter = org.user_id(owner)
        steps: list[_Step] = [
            (
                "Started",
                submitter,
                submitted,
                rng.choice((None, "Please approve a 15% discount.")),
                None,
            )
        ]
        approvers = [org.ADMIN] + ([org.owner(rng)] if rng.random() < 0.5 else [])
        t, status, pending_actor = submitted, "Approved", None
        for node, approver in enumerate(approvers, start=1):
            t += int(rng.uniform(0.1, 4) * DAY)
            if t >= org.anchor:
                status, pending_actor = "Pending", approver
                break
            approved = rng.random() < 0.8
            comment = rng.choice(APPROVAL_COMMENTS if approved else REJECTION_COMMENTS)
            steps.append(
                (
                    "Approved" if approved else "Rejected",
                    org.user_id(approver),
                    t,
                    comment,
                    make_id("04b", node),
                )
            )
            if not approved:
                status = "Rejected"
                break
        self.requests.append(
            _Request(
                instance_id,
                submitter,
                target_id,
                submitted,
                steps,
                status,
                pending_actor,
                approvers,
            )
        )

    def _write(self, org: World, request: _Request) -> None:
        instance_id, submitter, target_id, submitted = (
            request.instance_id,
            request.submitter,
            request.target_id,
            request.submitted,
        )
        steps, status, pending_actor, approvers = (
            request.steps,
            request.status,
            request.pending_actor,
            request.approvers,
        )
        previous = submitted
        for step_status, actor, at, comment, node_id in steps:
            elapsed = (at - previous) / DAY
            self.steps.add(
                ProcessInstanceId=instance_id,
                StepStatus=step_status,
                OriginalActorId=actor,
                ActorId=actor,
                Comments=comment,
                StepNodeId=node_id,
                ElapsedTimeInDays=round(elapsed, 3),
                ElapsedTimeInHours=round(elapsed * 24, 2),
                ElapsedTimeInMinutes=float(round(elapsed * 1440)),
                CreatedDate=ms(at),
                CreatedById=actor,
                SystemModstamp=ms(at),
            )
            previous = at
        last_actor, last_at = steps[-1][1], steps[-1][2]
        if pending_actor is not None:
            self.workitems.add(
                Id=make_id("04i", self.workitems.rows + 1),
                IsDeleted=False,
                ProcessInstanceId=instance_id,
                OriginalActorId=org.user_id(pending_actor),
                ActorId=org.user_id(pending_actor),
                ElapsedTimeInDays=round((org.anchor - last_at) / DAY, 3),
                CreatedDate=ms(last_at),
                CreatedById=last_actor,
                SystemModstamp=ms(last_at),
            )
        completed = None if status == "Pending" else last_at
        elapsed_days = ((completed or org.anchor) - submitted) / DAY
        self.instances.add(
            Id=instance_id,
            IsDeleted=False,
            ProcessDefinitionId=make_id("04a", 1 + len(approvers)),
            TargetObjectId=target_id,
            Status=status,
            CompletedDate=ms(completed) if completed else None,
            LastActorId=last_actor,
            SubmittedById=submitter,
            ElapsedTimeInDays=round(elapsed_days, 3),
            ElapsedTimeInHours=round(elapsed_days * 24, 2),
            ElapsedTimeInMinutes=float(round(elapsed_days * 1440)),
            CreatedDate=ms(submitted),
            CreatedById=submitter,
            LastModifiedDate=ms(last_at),
            LastModifiedById=last_actor,
            SystemModstamp=ms(last_at),
        )
