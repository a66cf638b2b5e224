"""Approval processes: ProcessInstance, its steps, and the work items of undecided ones."""

from __future__ import annotations

import random

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


class Approvals:
    """Builds the approval objects of one family; ``submit`` simulates one approval request."""

    def __init__(self) -> None:
        self.instances = TableBuilder(OBJECTS_BY_NAME["processinstance"])
        self.steps = TableBuilder(OBJECTS_BY_NAME["processinstancestep"])
        self.workitems = TableBuilder(OBJECTS_BY_NAME["processinstanceworkitem"])

    def tables(self) -> dict[str, pa.Table]:
        return {
            "ProcessInstance": self.instances.to_table(),
            "ProcessInstanceStep": self.steps.to_table(assign_ids=True, sort_by="CreatedDate"),
            "ProcessInstanceWorkitem": self.workitems.to_table(),
        }

    def submit(
        self, org: World, rng: random.Random, owner: int, target_id: str, submitted: int
    ) -> None:
        """A discount approval: a Started step, then one or two approver decisions."""
        instance_id = make_id("04g", self.instances.rows + 1)
        submitter = org.user_id(owner)
        steps = [
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
