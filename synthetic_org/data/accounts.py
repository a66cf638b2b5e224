"""Accounts and contacts with their field history."""

from __future__ import annotations

import decimal
import random

import pyarrow as pa

from ..ids import make_id
from .base import DAY, HISTORY_SPAN_DAYS, FieldHistoryWriter, World, day_number, ms, spec
from .columns import TableBuilder
from .names import CITIES, COMPANY_SUFFIX, COMPANY_WORDS, FIRST_NAMES, LAST_NAMES

# The first account's AnnualRevenue (currency(18, 2)): exact only as a decimal.
BEYOND_FLOAT_REVENUE = decimal.Decimal("9876543210987654.32")


def simulate_accounts(org: World, rng: random.Random) -> dict[str, pa.Table]:
    accounts = TableBuilder(spec("Account"))
    account_history = TableBuilder(spec("AccountHistory"))
    contacts = TableBuilder(spec("Contact"))
    contact_history = TableBuilder(spec("ContactHistory"))
    ratings = ("Hot", "Warm", "Cold")
    for index, created_at in enumerate(org.sorted_times(rng, org.size.accounts, HISTORY_SPAN_DAYS)):
        account_id = make_id("001", index + 1)
        owner = org.owner(rng)
        rating = rng.choice(ratings)
        account_type = "Prospect"
        history = FieldHistoryWriter(account_history, "AccountId", account_id)
        history.created(created_at, org.user_id(owner))
        last_change = created_at
        t = created_at
        for _ in range(rng.randrange(0, 4)):
            t += int(rng.uniform(2, 90) * DAY)
            if t >= org.anchor:
                break
            actor = org.user_id(org.actor(rng, owner))
            if rng.random() < 0.5:
                new_rating = rng.choice([r for r in ratings if r != rating])
                history.change(t, actor, "Rating", "Picklist", rating, new_rating)
                rating = new_rating
            else:
                new_type = rng.choice(("Customer - Direct", "Customer - Channel", "Partner"))
                if new_type != account_type:
                    history.change(t, actor, "Type", "Picklist", account_type, new_type)
                    account_type = new_type
            last_change = t
        deleted_at = org.deleted(rng, after=last_change)
        modified = deleted_at or last_change
        city, state, country, lat, lon = rng.choice(CITIES)
        name = (
            f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIX)}"
        )
        accounts.add(
            Id=account_id,
            IsDeleted=deleted_at is not None,
            Name=name,
            Type=account_type,
            Industry=rng.choice(("Banking", "Technology", "Healthcare", "Retail", "Manufacturing")),
            AnnualRevenue=(
                # Beyond a double's 15-17 digits: a client that parses it as a float loses cents.
                BEYOND_FLOAT_REVENUE
                if index == 0
                else decimal.Decimal(rng.randrange(1, 500) * 100_000)
            ),
            NumberOfEmployees=rng.randrange(5, 20_000),
            Phone=f"+1 415 555 {rng.randrange(1000, 9999)}",
            Website=f"https://www.{name.split()[0].lower()}.example.com",
            Rating=rating,
            BillingStreet=f"{rng.randrange(1, 999)} Market Street\nSuite {rng.randrange(100, 900)}",
            BillingCity=city,
            BillingState=state,
            BillingPostalCode=str(rng.randrange(10000, 99999)),
            BillingCountry=country,
            BillingLatitude=lat + rng.uniform(-0.05, 0.05),
            BillingLongitude=lon + rng.uniform(-0.05, 0.05),
            BillingGeocodeAccuracy="Address",
            Description='Key account, "strategic" tier, renewals handled by CSM'
            if rng.random() < 0.2
            else None,
            OwnerId=org.user_id(owner),
            LastActivityDate=day_number(last_change),
            CreatedDate=ms(created_at),
            CreatedById=org.user_id(owner),
            LastModifiedDate=ms(modified),
            LastModifiedById=org.user_id(owner),
            SystemModstamp=ms(modified),
        )
    for index, created_at in enumerate(org.sorted_times(rng, org.size.contacts, HISTORY_SPAN_DAYS)):
        contact_id = make_id("003", index + 1)
        owner = org.owner(rng)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        title = rng.choice(("CFO", "VP Sales", "Buyer", "CTO", "Engineer"))
        history = FieldHistoryWriter(contact_history, "ContactId", contact_id)
        history.created(created_at, org.user_id(owner))
        modified = created_at
        if rng.random() < 0.4:
            t = created_at + int(rng.uniform(5, 200) * DAY)
            if t < org.anchor:
                new_title = rng.choice(("Director", "Head of Procurement", "COO"))
                history.change(
                    t, org.user_id(org.actor(rng, owner)), "Title", "Text", title, new_title
                )
                title, modified = new_title, t
        deleted_at = org.deleted(rng, after=modified)
        modified = deleted_at or modified
        email = f"{first.lower()}.{last.lower().replace(chr(39), '')}{index}@customer.example.com"
        contacts.add(
            Id=contact_id,
            IsDeleted=deleted_at is not None,
            AccountId=make_id("001", 1 + rng.randrange(org.size.accounts)),
            FirstName=first,
            LastName=last,
            Name=f"{first} {last}",
            Email=email,
            Phone=f"+44 20 7946 {rng.randrange(1000, 9999)}",
            Title=title,
            LeadSource=rng.choice(("Web", "Phone Inquiry", "Partner Referral", "Trade Show")),
            MailingCity=rng.choice(CITIES)[0],
            MailingCountry=rng.choice(("US", "GB", "DE")),
            Birthdate=day_number(org.anchor - rng.uniform(25, 60) * 365 * DAY)
            if rng.random() < 0.3
            else None,
            HasOptedOutOfEmail=rng.random() < 0.1,
            OwnerId=org.user_id(owner),
            CreatedDate=ms(created_at),
            CreatedById=org.user_id(owner),
            LastModifiedDate=ms(modified),
            LastModifiedById=org.user_id(owner),
            SystemModstamp=ms(modified),
        )
    return {
        "Account": accounts.to_table(),
        "AccountHistory": account_history.to_table(assign_ids=True, sort_by="CreatedDate"),
        "Contact": contacts.to_table(),
        "ContactHistory": contact_history.to_table(assign_ids=True, sort_by="CreatedDate"),
    }
