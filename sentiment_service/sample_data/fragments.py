"""Hand-written text fragments that the sample-data generator composes into messages."""

from __future__ import annotations

BRAND = "Lumenly"
VENDOR_DOMAIN = "lumenly.example"
SUPPORT_EMAIL = f"support@{VENDOR_DOMAIN}"

TOPICS: tuple[str, ...] = (
    "billing",
    "outage",
    "performance",
    "bugs",
    "feature_request",
    "onboarding",
    "support_experience",
    "integrations",
    "security",
    "renewal",
    "competitor",
    "account_management",
    "usability",
    "reporting",
    "praise",
)

# Canonical competitor name -> spellings customers actually use.
COMPETITORS: dict[str, tuple[str, ...]] = {
    "Brightpath": ("Brightpath", "brightpath", "BrightPath", "Bright Path"),
    "Quorvo": ("Quorvo", "quorvo", "Quorvo.io", "QUORVO"),
    "Tallymark": ("Tallymark", "tallymark", "TallyMark", "Tally"),
}

FEATURES: tuple[str, ...] = (
    "the health dashboard",
    "the account timeline",
    "CSV exports",
    "the alerts inbox",
    "saved views",
    "the weekly digest email",
    "the churn-risk panel",
    "topic trends",
    "the segment builder",
)
INTEGRATIONS: tuple[str, ...] = (
    "the CRM sync",
    "the webhook feed",
    "SSO login",
    "the warehouse export",
    "the ticketing connector",
    "the REST API",
    "the chat connector",
)
REPORTS: tuple[str, ...] = (
    "the monthly exec report",
    "the QBR deck export",
    "the NPS trend report",
    "the ticket volume report",
    "the usage report",
)
TEAMS: tuple[str, ...] = (
    "support team",
    "ops team",
    "finance team",
    "CS leads",
    "analytics group",
    "night shift",
    "EMEA team",
    "billing desk",
)
MODULES: tuple[str, ...] = ("the Insights add-on", "the Forecasting module", "Advanced Routing")

CORE: dict[str, dict[str, tuple[str, ...]]] = {
    "billing": {
        "negative": (
            "We were charged twice for the {month} invoice and nobody has explained why.",
            "The new pricing adds roughly {pct}% to our bill for exactly the same features.",
            "Our invoice lists {seats} seats but we only ever provisioned about half of that.",
            "Finance flagged that invoice {invoice} still shows the old tax rate, "
            "this is the second correction we've had to ask for.",
            "The card on file was declined and the account got locked without any warning.",
        ),
        "neutral": (
            "Please update our billing address to the new office, details are below.",
            "Could you send a copy of invoice {invoice} with our PO number on it?",
            "We need to move from monthly to annual billing at the next cycle, "
            "what is the process?",
            "Who is the right contact to change the billing email to our AP mailbox?",
        ),
        "positive": (
            "Thanks for sorting the credit note so quickly, finance is happy.",
            "Switching to annual billing was painless and the discount helped a lot.",
            "The invoices are finally clear enough that I don't have to explain them "
            "to our controller.",
        ),
    },
    "outage": {
        "negative": (
            "{brand} has been down for us since about {clock} and nobody on the team can log in.",
            "This is the {nth} outage this quarter and our agents are back on spreadsheets.",
            "The status page said all systems operational while we were getting 502 errors "
            "for {hours} hours.",
            "Our morning reporting run failed because the platform was unavailable again.",
        ),
        "neutral": (
            "Is there a post-incident report for the outage on {recent}? Our risk team is asking.",
            "Can you confirm whether the maintenance window this weekend affects the EU region?",
            "We'd like to subscribe our on-call alias to status page updates.",
        ),
        "positive": (
            "Thanks for the clear updates during the incident, the timeline made it easy "
            "to brief our execs.",
            "Recovery was much faster than last time and we didn't lose any data.",
            "Appreciate the credit and the detailed post-mortem, that's how it should be done.",
        ),
    },
    "performance": {
        "negative": (
            "Dashboards are taking 30+ seconds to load, which makes the tool useless in meetings.",
            "The timeline view freezes whenever an account has more than a few hundred tickets.",
            "Exports that used to take a minute now time out completely.",
            "Search has become painfully slow since last week and the agents are complaining.",
        ),
        "neutral": (
            "Is there a recommended page size for the API? We want to stay under rate limits "
            "during the nightly sync.",
            "Could you check whether our workspace is on the new infrastructure yet?",
            "We plan to import about {n}00k historical tickets, are there limits we should "
            "know about?",
        ),
        "positive": (
            "Whatever you changed last release, the dashboards are noticeably snappier now.",
            "Load times are down a lot since the upgrade, the team noticed straight away.",
            "The bulk export finished in under two minutes, that used to take twenty.",
        ),
    },
    "bugs": {
        "negative": (
            "Filters on {feature} reset every time you switch tabs, so we keep exporting "
            "the wrong data.",
            "The sentiment column shows blank for every account created after {month}.",
            "Notes saved by our CSMs disappear after a page refresh. We've lost work twice now.",
            "Date pickers show US format even though our locale is UK, so people enter "
            "the wrong dates.",
            "Clicking 'merge duplicates' crashed the page and now two accounts share one owner.",
        ),
        "neutral": (
            "Attaching screenshots for the error on {feature}, steps to reproduce are below.",
            "Not sure if this is a bug or expected: tag counts differ between the dashboard "
            "and the export.",
            "Is there a known issue with the timeline on Safari? Checking before we ask IT.",
        ),
        "positive": (
            "Confirming the fix for the broken filters works on our side, thanks for the "
            "fast turnaround.",
            "The patch resolved the duplicate notes issue, all good now.",
            "Thanks for reproducing it so quickly, the workaround is fine until the release.",
        ),
    },
    "feature_request": {
        "negative": (
            "We've asked for role-based permissions on {feature} for over a year and there's "
            "still no date.",
            "Without bulk editing we are doing hundreds of clicks a week, this should exist "
            "by now.",
            "Honestly the roadmap feels frozen, none of the things we voted for have shipped.",
        ),
        "neutral": (
            "Would it be possible to schedule {report} to go out automatically every Monday?",
            "Feature request: let us define custom fields on accounts and filter by them "
            "in {feature}.",
            "Is a German translation of the agent UI on the roadmap?",
            "Could the API return the topic labels alongside the sentiment score?",
        ),
        "positive": (
            "We'd love to roll this out to our {team} as well, any chance of team-level "
            "dashboards?",
            "The new segment builder is great, if it could save filters per user we'd use it "
            "everywhere.",
            "Really excited about the forecasting beta, please add us to the early access list.",
            "Leadership wants to expand usage, so a few asks: SSO groups, audit logs and "
            "a sandbox.",
        ),
    },
    "onboarding": {
        "negative": (
            "We're six weeks in and the integration still isn't configured, the kickoff was "
            "the last time we heard from anyone.",
            "The training sessions went too fast and half our team still can't build a view.",
            "The setup guide is out of date, the screenshots don't match what we see.",
        ),
        "neutral": (
            "Can we book another training session for the {n} new hires starting next month?",
            "Where can we find the admin onboarding checklist you mentioned on the call?",
            "Please add our new team lead as an admin so she can finish the setup.",
        ),
        "positive": (
            "The onboarding workshop was excellent, the team was up and running within a week.",
            "Huge thanks to the implementation team, the migration went smoother than expected.",
            "The training videos are short and to the point, new hires actually watch them.",
        ),
    },
    "support_experience": {
        "negative": (
            "It took {days} days to get a first response on a high-priority ticket.",
            "Every reply asks us to clear our cache, as if nobody has read the ticket.",
            "The ticket was closed as solved without anyone checking that the fix worked.",
            "We keep getting bounced between support and our account manager, nobody owns it.",
        ),
        "neutral": (
            "What is the expected response time for normal priority tickets on our plan?",
            "Please cc our IT lead on this ticket going forward.",
            "Is there a phone line for urgent issues or is email the only channel?",
        ),
        "positive": (
            "{agent_first} was fantastic, patient and clearly knows the product inside out.",
            "Support has been consistently quick and helpful, please pass on our thanks.",
            "Best support interaction I've had with any vendor this year.",
        ),
    },
    "integrations": {
        "negative": (
            "{integration} keeps failing silently and we only notice when the numbers "
            "don't add up.",
            "The webhook payloads changed without notice and broke our downstream jobs.",
            "We get 429 errors from the API even though we're well under the documented limit.",
            "{integration} duplicated every contact last night, thousands of records to clean.",
        ),
        "neutral": (
            "Which API version should we target for the new sync? The docs mention v2 and v3.",
            "Can you allowlist our new egress IP for {integration}?",
            "Is there a sandbox where we can test the webhook changes first?",
        ),
        "positive": (
            "{integration} has been rock solid since the last update.",
            "The new API docs are really well written, our developer had the sync working "
            "in an afternoon.",
            "Loving how easy it was to connect {integration}, no consultants needed.",
        ),
    },
    "security": {
        "negative": (
            "Our security review is blocked because we still haven't received the SOC 2 report.",
            "SSO sessions aren't expiring when users leave our directory, that's a serious gap.",
            "An ex-employee still had access weeks after offboarding. We need an explanation.",
        ),
        "neutral": (
            "Please send the latest penetration test summary and your DPA for procurement.",
            "Can you confirm where our data is stored and whether EU residency is available?",
            "We need to enforce MFA for all users, where is that setting?",
        ),
        "positive": (
            "Thanks for the quick turnaround on the security questionnaire, our CISO signed off.",
            "The audit log is exactly what our compliance team needed.",
            "Really glad SAML SSO is now included, the rollout was straightforward.",
        ),
    },
    "renewal": {
        "negative": (
            "Given the issues this year we're not sure we can justify renewing at this price.",
            "The renewal quote came in {pct}% higher and nobody explained why beforehand.",
            "Leadership is reviewing all tooling before renewal and {brand} is on the list to cut.",
        ),
        "neutral": (
            "Our renewal is coming up, can you send the current contract terms and seat count?",
            "We'd like to discuss moving to a two-year term at renewal.",
            "Please confirm the notice period in our contract.",
        ),
        "positive": (
            "Happy to confirm we'll be renewing, please send the paperwork over.",
            "We plan to renew and add {module}, can we get a quote?",
            "The renewal was easy this year, thanks for getting it done early.",
        ),
    },
    "competitor": {
        "negative": (
            "{competitor} offered us a similar package for considerably less, give us a reason "
            "to stay.",
            "Our new VP used {competitor} at her last company and is pushing us to switch.",
            "Frankly {competitor} already has the reporting we've been asking you for.",
        ),
        "neutral": (
            "We're doing a routine comparison with {competitor} for procurement, could you "
            "fill in the attached matrix?",
            "How does your sentiment scoring compare with what {competitor} offers?",
        ),
        "positive": (
            "We looked at {competitor} last quarter and decided {brand} is still the better fit.",
            "Compared with {competitor} the setup here was much simpler, no regrets.",
            "Sat through a {competitor} demo, honestly it wasn't close.",
        ),
    },
    "account_management": {
        "negative": (
            "This is our third account manager in a year and each time we start from scratch.",
            "We haven't had a check-in since the kickoff, it feels like we were forgotten "
            "once the contract was signed.",
            "Our CSM promised a roadmap session that never happened.",
        ),
        "neutral": (
            "Could we schedule our quarterly business review for early next month?",
            "Please update the primary contact on our account to {contact}.",
            "Who will be our point of contact while {csm_first} is on leave?",
        ),
        "positive": (
            "{csm_first} has been a great partner, the QBR was genuinely useful.",
            "Really appreciate {csm_first} checking in before our peak season.",
            "Our account team understands our business better than any other vendor.",
        ),
    },
    "usability": {
        "negative": (
            "The new navigation is confusing, people can't find the reports they use daily.",
            "Too many clicks to do simple things, like tagging a conversation.",
            "Half the icons have no labels and the tooltips don't help.",
        ),
        "neutral": (
            "Is there a way to change the default landing page for our agents?",
            "Are there keyboard shortcuts for moving between conversations?",
            "Can we hide the modules we don't use from the sidebar?",
        ),
        "positive": (
            "The interface is clean and our agents picked it up with almost no training.",
            "Love the new keyboard shortcuts, they save a ton of time.",
            "The redesigned inbox is so much easier to scan.",
        ),
    },
    "reporting": {
        "negative": (
            "The numbers in {report} don't match our warehouse, so leadership stopped trusting it.",
            "Exports drop any column with special characters, which breaks our monthly pack.",
            "There's no way to get the NPS trend by segment, we rebuild it in spreadsheets.",
        ),
        "neutral": (
            "Can you explain how the health score in {report} is calculated?",
            "We need the raw event data for last quarter, what's the best way to get it?",
            "Is there an option to change the reporting timezone to CET?",
        ),
        "positive": (
            "The new dashboards are brilliant, {report} takes me ten minutes instead of "
            "half a day.",
            "Our exec team loves the topic trends chart, it made our QBR.",
            "Reporting has become the part of {brand} we rely on most.",
        ),
    },
    "praise": {
        "negative": (),
        "neutral": (),
        "positive": (
            "Just wanted to say the whole team loves working with {brand}.",
            "Honestly one of the best tools we've bought in years.",
            "{brand} has changed how our support team prioritises work, thank you.",
            "Shout-out to everyone at {brand}, the last few months have been excellent.",
            "Our agents say {brand} is the first tool that actually makes their day easier.",
        ),
    },
}

# Short, informal variants for chat and social.
SHORT: dict[str, dict[str, tuple[str, ...]]] = {
    "billing": {
        "negative": ("why did we get charged twice??", "the new pricing is a lot tbh"),
        "neutral": (
            "quick one - how do I update the card on file?",
            "can i get last month's invoice?",
        ),
        "positive": ("thanks for fixing the invoice!", "annual plan switch done, that was easy"),
    },
    "outage": {
        "negative": ("is {brand} down? getting 502s", "app won't load again", "down AGAIN?"),
        "neutral": ("any eta on the fix?", "is there a status page link?"),
        "positive": ("back up now, thanks for the quick fix", "all good on our side now"),
    },
    "performance": {
        "negative": ("dashboards are super slow today", "search takes forever"),
        "neutral": ("is the app slow for everyone or just us?",),
        "positive": ("wow it's much faster now", "pages load instantly now"),
    },
    "bugs": {
        "negative": ("the export button does nothing", "filters keep resetting, driving me nuts"),
        "neutral": (
            "think i found a bug in the date picker",
            "getting an error when saving a view",
        ),
        "positive": ("fix works, thank you!", "bug's gone, cheers"),
    },
    "feature_request": {
        "negative": ("still no bulk edit? come on", "when is dark mode actually shipping"),
        "neutral": ("any plans for dark mode?", "can we get a slack alert when sentiment drops?"),
        "positive": ("would love team dashboards, we'd use them daily", "the beta looks great!"),
    },
    "onboarding": {
        "negative": ("still waiting on our setup call", "the setup docs are outdated"),
        "neutral": ("where's the admin guide?", "can we book training for new starters?"),
        "positive": ("training today was super helpful", "setup was way easier than expected"),
    },
    "support_experience": {
        "negative": ("been waiting 3 days for a reply", "your bot keeps sending me in circles"),
        "neutral": ("can someone from support call me?", "what's the status of my ticket?"),
        "positive": ("you guys are the best, thanks!", "super quick answer, appreciate it"),
    },
    "integrations": {
        "negative": ("crm sync broke again", "api returning 500s since this morning"),
        "neutral": ("which api version should we use?", "how do i rotate the api key?"),
        "positive": ("webhooks working perfectly now", "sync is running smoothly"),
    },
    "security": {
        "negative": ("why is there no MFA enforcement??",),
        "neutral": ("where do i find the SOC 2 report?", "can we turn on SSO for everyone?"),
        "positive": ("SSO setup done in 10 mins, nice",),
    },
    "renewal": {
        "negative": ("not sure we're renewing tbh",),
        "neutral": ("when is our renewal date?", "who do i talk to about the contract?"),
        "positive": ("renewal signed 🎉",),
    },
    "competitor": {
        "negative": (
            "{competitor} is cheaper and does the same thing",
            "seriously eyeing {competitor}",
        ),
        "neutral": ("how are you different from {competitor}?",),
        "positive": ("tried {competitor}, came back, you're better",),
    },
    "account_management": {
        "negative": ("haven't heard from our CSM in months",),
        "neutral": ("who's our account manager now?",),
        "positive": ("{csm_first} is awesome",),
    },
    "usability": {
        "negative": ("can't find anything in the new menu", "why is this so many clicks"),
        "neutral": ("how do I change my default view?",),
        "positive": ("love the new layout", "the shortcuts are 🔥"),
    },
    "reporting": {
        "negative": ("report numbers look wrong again", "the export is missing columns"),
        "neutral": ("how do i export nps by segment?",),
        "positive": ("the new dashboards are so good", "exec team loved the report"),
    },
    "praise": {
        "negative": (),
        "neutral": (),
        "positive": ("love this tool", "you folks rock", "best tool we use, no question"),
    },
}

# Aspect clauses (lower case, no final punctuation) for mixed-aspect messages.
ASPECT_POS: dict[str, tuple[str, ...]] = {
    "reporting": ("love the dashboards", "the reports are genuinely useful"),
    "usability": ("the UI is lovely", "the new inbox is easy to use"),
    "support_experience": ("your support folks are great", "the agents are always friendly"),
    "integrations": ("the CRM sync finally works", "the API is solid"),
    "onboarding": ("onboarding was smooth", "the training was great"),
    "performance": ("it's much faster than it used to be",),
    "account_management": ("our CSM is lovely",),
    "praise": ("the product itself is excellent", "we really like the tool"),
}
ASPECT_NEG: dict[str, tuple[str, ...]] = {
    "billing": ("billing is a mess", "the invoices are impossible to read"),
    "outage": ("the outages are getting old", "it goes down far too often"),
    "performance": ("it's painfully slow on big accounts",),
    "bugs": ("the exports keep breaking", "every release seems to break a filter"),
    "support_experience": ("support takes days to answer",),
    "reporting": ("the numbers never match our warehouse",),
    "usability": ("the navigation is a maze",),
    "integrations": ("the webhook feed is flaky",),
    "feature_request": ("we're still waiting on bulk edit",),
}

POLITE_LEADS: tuple[str, ...] = (
    "Thanks for the quick reply, but",
    "I appreciate the effort so far, however",
    "Sorry to chase again, but",
    "Thanks, but this is the third time this month:",
    "I don't want to be difficult, but",
    "With respect,",
)

SARCASM: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Great, another outage, just what we needed on a Monday.", ("outage",)),
    ("Love paying for seats nobody can log into. Fantastic value.", ("outage", "billing")),
    ("Oh good, the export is broken again. Really making my day.", ("bugs",)),
    ("Wonderful, a price increase and a slower app. Thanks so much.", ("billing", "performance")),
    ("Brilliant, day four of waiting for a reply. Amazing service.", ("support_experience",)),
    ("Nothing says enterprise-ready like a spinner that never stops.", ("performance",)),
    ("Cool cool, the sync duplicated everything again. Very helpful.", ("integrations",)),
    ("So glad the new menu hides the one report I use every day.", ("usability", "reporting")),
    ("Thrilled to learn about the new invoice format from our auditors.", ("billing",)),
    ("Fantastic, the status page is green and nothing works. Classic.", ("outage",)),
)

NEGATION: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Not bad at all, the new reports are actually useful.", "positive", ("reporting",)),
    (
        "No complaints about the support team, they always get back to us.",
        "positive",
        ("support_experience",),
    ),
    ("Never had a single issue with billing, which is rare.", "positive", ("billing",)),
    ("Can't say I miss our old tool.", "positive", ("praise",)),
    ("Not unhappy with the onboarding, it did what it needed to.", "positive", ("onboarding",)),
    (
        "I wouldn't say the onboarding was great, we mostly figured it out ourselves.",
        "negative",
        ("onboarding",),
    ),
    ("Not happy with how the last incident was communicated.", "negative", ("outage",)),
    ("The API isn't reliable enough for us to build on.", "negative", ("integrations",)),
    ("Not exactly fast, is it? Ten seconds per page.", "negative", ("performance",)),
    ("Nobody from your side has ever explained the price change.", "negative", ("billing",)),
)

SUBJECTS: dict[str, tuple[str, ...]] = {
    "billing": (
        "Duplicate charge on latest invoice",
        "Billing address update",
        "Question about invoice {invoice}",
        "Pricing change",
    ),
    "outage": ("Cannot log in", "Platform unavailable", "URGENT: 502 errors", "Outage today"),
    "performance": ("Dashboards very slow", "Export timing out", "Slow search"),
    "bugs": ("Filters resetting", "Bug in {feature}", "Notes not saving", "Error on save"),
    "feature_request": ("Feature request", "Idea: scheduled reports", "Roadmap question"),
    "onboarding": ("Training request", "Setup help", "Onboarding next steps"),
    "support_experience": ("Escalation", "No response on previous ticket", "Support feedback"),
    "integrations": ("CRM sync failing", "Webhook payload change", "API rate limits"),
    "security": ("Security review documents", "SSO question", "Access review"),
    "renewal": ("Renewal", "Contract question", "Renewal quote"),
    "competitor": ("Vendor comparison", "Procurement questionnaire"),
    "account_management": ("QBR scheduling", "Change of contact", "Account manager"),
    "usability": ("Navigation question", "UI feedback", "How do I change the default view?"),
    "reporting": ("Report numbers mismatch", "Export question", "Health score calculation"),
    "praise": ("Thank you!", "Feedback"),
}

# Subjects for calm (neutral or positive) tickets on topics whose usual subjects sound alarmed.
CALM_SUBJECTS: dict[str, tuple[str, ...]] = {
    "outage": (
        "Post-incident report request",
        "Maintenance window question",
        "Status page subscription",
        "Incident follow-up",
    ),
    "performance": ("Import volume question", "API page size", "Infrastructure migration"),
    "bugs": ("Possible bug?", "Question about tag counts", "Follow-up on fix"),
    "support_experience": (
        "Response times on our plan",
        "Contact preferences",
        "Thanks to your team",
    ),
}

GREETINGS: tuple[str, ...] = (
    "Hi team,",
    "Hello,",
    "Hi {agent_first},",
    "Good morning,",
    "Dear {brand} Support,",
    "Hi all,",
    "Hey folks,",
    "Hello support,",
)
INTROS: tuple[str, ...] = (
    "Hope you're well.",
    "I'm writing about something we noticed on {weekday}.",
    "Following up on our call earlier.",
    "Quick one from our side.",
    "Raising this on behalf of our {team}.",
    "Apologies for the long email.",
    "Flagging this for the second time.",
    "",
    "",
    "",
)
DETAILS: dict[str, tuple[str, ...]] = {
    "negative": (
        "This is affecting about {n}0 users.",
        "We need this resolved before our board meeting on {weekday}.",
        "Our leadership is now asking questions about this.",
        "We've already tried everything in the help center.",
        "Please treat this as urgent.",
        "It happened again this morning.",
        "Our agents have lost a fair amount of time to this.",
    ),
    "neutral": (
        "No rush on this.",
        "Happy to jump on a call if that's easier.",
        "Let me know if you need more details.",
        "Screenshots attached.",
        "Our account ID should be on file.",
        "This is for the {team}.",
    ),
    "positive": (
        "Keep up the good work.",
        "Really appreciate it.",
        "No action needed, just wanted to share.",
        "The {team} asked me to pass this on.",
    ),
}
CLOSINGS: tuple[str, ...] = (
    "Thanks,",
    "Thanks in advance,",
    "Best regards,",
    "Cheers,",
    "Kind regards,",
    "Regards,",
    "Thank you,",
    "Many thanks,",
)

FOLLOWUPS: dict[str, tuple[str, ...]] = {
    "positive": (
        "That did the trick, thank you!",
        "Confirmed fixed on our side. Appreciate the quick help.",
        "All working again, thanks for staying on it.",
        "Perfect, that's exactly what we needed.",
    ),
    "neutral": (
        "Thanks, we'll test tomorrow and report back.",
        "Got it. Can you keep the ticket open until Friday?",
        "Noted, I've forwarded this to our IT team.",
    ),
    "negative": (
        "Still happening I'm afraid, same error as before.",
        "This doesn't solve the problem. Can someone escalate please?",
        "We tried that already, as mentioned in my first email.",
        "Thanks, but this is the third time we've been given the same workaround "
        "and it still doesn't work.",
    ),
}

AGENT_OPENERS: tuple[str, ...] = (
    "Hi {cust_first},\n\nThanks for reaching out.",
    "Hello {cust_first},\n\nThanks for getting in touch, and sorry for the trouble.",
    "Hi {cust_first}, thanks for the detailed report.",
    "Hi {cust_first},\n\nI've picked this up for you.",
)
AGENT_BODIES: dict[str, tuple[str, ...]] = {
    "billing": (
        "I've asked our billing team to review the invoice and issue a corrected copy.",
        "I've updated the billing details on your account; the next invoice will match.",
    ),
    "outage": (
        "We had a platform incident affecting some workspaces; service is restored and "
        "a post-incident report will follow.",
        "Engineering is actively working on this. Updates are on the status page.",
    ),
    "performance": (
        "We've identified a slow query affecting larger accounts and a fix is "
        "rolling out this week.",
        "Could you share a HAR file so we can trace the slow requests?",
    ),
    "bugs": (
        "I've reproduced this and logged it with engineering as a priority bug.",
        "A fix is scheduled for the next release; in the meantime, a hard refresh helps.",
    ),
    "feature_request": (
        "I've added your vote to the request and shared the context with our product team.",
        "This isn't available today, but it's on the roadmap for later this year.",
    ),
    "onboarding": (
        "I've booked a training slot and sent the invite to your admins.",
        "Here's the admin checklist: help.lumenly.example/admin-start.",
    ),
    "support_experience": (
        "I'm sorry about the delay; I've escalated this to the team lead.",
        "Thanks for the feedback, I've shared it with our support manager.",
    ),
    "integrations": (
        "The sync is failing on a field mapping; I've corrected it on our side.",
        "Please target v3 of the API; v2 is deprecated at the end of the year.",
    ),
    "security": (
        "I've shared the SOC 2 report and DPA through the trust portal.",
        "MFA enforcement is under Settings > Security > Authentication.",
    ),
    "renewal": (
        "I've looped in your account manager, who will send the renewal details.",
        "Your notice period is 60 days; your CSM can walk you through options.",
    ),
    "competitor": (
        "I've passed this to your account team so they can follow up directly.",
        "Your CSM will reach out with a comparison and references.",
    ),
    "account_management": (
        "I've asked your account manager to get in touch this week.",
        "I've updated the contact details on your account.",
    ),
    "usability": (
        "You can change the default view under Profile > Preferences.",
        "Thanks for the feedback on the navigation, I've shared it with design.",
    ),
    "reporting": (
        "The difference comes from timezone handling; the report uses UTC by default.",
        "Raw events can be exported from Settings > Data > Export.",
    ),
    "praise": (
        "That's lovely to hear, I'll share it with the whole team!",
        "Thank you so much, this made our day.",
    ),
}
AGENT_CLOSERS: tuple[str, ...] = (
    "Let me know if there's anything else I can help with.",
    "I'll keep this ticket open until you confirm.",
    "Have a great rest of your week.",
    "Feel free to reply here with any questions.",
)
AGENT_CHAT: tuple[str, ...] = (
    "Hi {cust_first}! Let me look into that for you.",
    "Thanks for flagging, checking now 👀",
    "Sorry about that, our engineers are on it.",
    "Good question! One sec while I find the right doc.",
    "I can help with that. Could you share a screenshot?",
)
AGENT_CHAT_CLOSE: tuple[str, ...] = (
    "Done! Let me know if that helps.",
    "That should be sorted now. Anything else?",
    "I've logged this with the team and will follow up by email.",
    "Here's the article: help.lumenly.example/articles/1042",
)
AGENT_SOCIAL: tuple[str, ...] = (
    "Sorry to hear that! Could you DM us your workspace name so we can take a look?",
    "Thanks for flagging. Our team is investigating, updates on status.lumenly.example",
    "Thank you, that's great to hear! We'll pass it on to the team.",
)

BOT_TICKET = (
    f"Thanks for contacting {BRAND} Support, we received your request and a member of our "
    "team will get back to you shortly. You can add more details by replying to this email."
)
BOT_CHAT = (
    "Hi there 👋 Thanks for your message! The team typically replies in under 10 minutes. "
    f"In the meantime, you can search our help center at help.{VENDOR_DOMAIN}."
)
BOT_CHAT_CLOSE = "This conversation has been closed. How would you rate your experience?"

CHAT_OPENERS: tuple[str, ...] = ("hey", "hi", "hello", "hi there", "morning!", "hey team", "")
EMOJI: dict[str, tuple[str, ...]] = {
    "positive": ("🙏", "🙌", "😊", "👍", "🎉"),
    "negative": ("😩", "😤", "🙄", "😞"),
    "neutral": ("🙂",),
}
ACKS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ok thanks", "neutral", ()),
    ("perfect, thank you!", "positive", ("support_experience",)),
    ("thx 👍", "neutral", ()),
    ("great, appreciate the quick help", "positive", ("support_experience",)),
    ("hmm ok, still not ideal but thanks", "negative", ("support_experience",)),
)

SURVEY_EXTRA: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "positive": (
        ("Great product, great people.", ("praise", "support_experience")),
        ("Easy to use and the support is responsive.", ("usability", "support_experience")),
        ("Does exactly what we need.", ("praise",)),
        ("Would recommend to any support team.", ("praise",)),
    ),
    "neutral": (
        ("It does the job.", ()),
        ("Fine overall, a few rough edges.", ("usability",)),
        ("Decent product, pricing is a bit high.", ("billing",)),
        ("Solid, but reporting could be better.", ("reporting",)),
        ("Too early to say, we only just finished setup.", ("onboarding",)),
        ("Good tool, but we only use half of it.", ("usability",)),
        ("Works as expected.", ()),
        ("Okay. Onboarding took longer than we planned.", ("onboarding",)),
        ("Depends on the day, honestly.", ()),
        ("Nothing special, nothing wrong either.", ()),
        ("Support is fine, the product is average.", ("support_experience",)),
        ("Would be a 9 if the exports were more reliable.", ("bugs",)),
    ),
    "negative": (
        ("Too expensive for what it does.", ("billing",)),
        ("Unreliable. Too many outages.", ("outage",)),
        ("Support is slow and the product is buggy.", ("support_experience", "bugs")),
        ("We are looking at alternatives.", ("competitor",)),
    ),
}

HASHTAGS: dict[str, tuple[str, ...]] = {
    "positive": ("#CX", "#customersuccess", "#SaaS", "#productivity", "#shoutout"),
    "neutral": ("#CX", "#SaaS", "#question"),
    "negative": ("#outage", "#fail", "#SaaS", "#frustrated", "#CX"),
}

CSM_NOTES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "negative": (
        (
            "Call with their {title}; they are evaluating {competitor}, budget review in Q4. "
            "Flagged as at risk.",
            ("competitor", "renewal"),
        ),
        (
            "Champion {contact} has left the company. No clear replacement yet and the exec "
            "sponsor is not replying.",
            ("account_management",),
        ),
        (
            "QBR was tense. Main complaints: the July outage and slow ticket responses. "
            "They want a service credit.",
            ("outage", "support_experience", "billing"),
        ),
        (
            "Usage down sharply this month; only the {team} is logging in regularly.",
            ("account_management",),
        ),
        (
            "Finance contact says the price increase was not budgeted. Asked for options "
            "before renewal.",
            ("billing", "renewal"),
        ),
        (
            "{contact} mentioned {competitor} twice and asked about data export formats. "
            "Likely shopping around.",
            ("competitor",),
        ),
        (
            "Escalation from {contact} about repeated sync failures. Engineering looped in, "
            "customer frustrated.",
            ("integrations", "support_experience"),
        ),
        (
            "Renewal call pushed for the second time. {contact} says leadership is 'reviewing "
            "all vendors'.",
            ("renewal",),
        ),
    ),
    "neutral": (
        (
            "Routine check-in with {contact}. No major issues; asked for training for new hires.",
            ("onboarding",),
        ),
        ("Sent renewal quote; waiting on procurement. Follow up in two weeks.", ("renewal",)),
        (
            "Walked {contact} through the new reporting features. Revisit adoption next month.",
            ("reporting",),
        ),
        ("Updated contacts: {contact} is now primary admin.", ("account_management",)),
        (
            "Security questionnaire received from their IT team, forwarded to compliance.",
            ("security",),
        ),
        (
            "Short email exchange about invoice format; they need PO numbers on invoices.",
            ("billing",),
        ),
    ),
    "positive": (
        (
            "Great QBR with the {title}. They want to roll out to the {team} and asked for a "
            "quote for {seats} more seats.",
            ("feature_request", "renewal"),
        ),
        (
            "{contact} shared that ticket backlog dropped {pct}% since go-live. Good case "
            "study candidate.",
            ("praise",),
        ),
        (
            "Exec sponsor very happy; verbally confirmed renewal and interest in {module}.",
            ("renewal", "praise"),
        ),
        (
            "Adoption strong across teams. Asked to join the beta for team dashboards.",
            ("feature_request",),
        ),
        (
            "{contact} compared us with {competitor} during planning and decided to stay. "
            "Wants a roadmap session.",
            ("competitor", "feature_request"),
        ),
        (
            "Training for the new {team} went well; {contact} very positive about support.",
            ("onboarding", "support_experience"),
        ),
    ),
}
CSM_PREFIXES: tuple[str, ...] = ("", "", "Call notes: ", "Meeting notes - ", "[QBR] ", "FYI: ")

FOREIGN: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "de": (
        (
            "Seit heute Morgen können wir uns nicht mehr einloggen. Bitte dringend prüfen.",
            "negative",
            ("outage",),
        ),
        (
            "Die Rechnung für diesen Monat enthält zu viele Lizenzen, bitte korrigieren.",
            "negative",
            ("billing",),
        ),
        (
            "Könnten Sie uns die Rechnung bitte mit unserer Bestellnummer erneut schicken?",
            "neutral",
            ("billing",),
        ),
        (
            "Die neuen Dashboards sind wirklich super, danke an das ganze Team!",
            "positive",
            ("reporting", "praise"),
        ),
        (
            "Das Dashboard lädt extrem langsam, so können wir nicht arbeiten.",
            "negative",
            ("performance",),
        ),
        ("Gibt es eine deutsche Version der Oberfläche?", "neutral", ("feature_request",)),
    ),
    "fr": (
        (
            "Bonjour, l'export CSV ne fonctionne plus depuis la dernière mise à jour.",
            "negative",
            ("bugs",),
        ),
        ("Merci pour la formation d'hier, l'équipe est ravie.", "positive", ("onboarding",)),
        (
            "Pouvez-vous mettre à jour notre adresse de facturation ? Merci d'avance.",
            "neutral",
            ("billing",),
        ),
        (
            "Le support met beaucoup trop de temps à répondre, c'est frustrant.",
            "negative",
            ("support_experience",),
        ),
        ("Très bon outil, simple à prendre en main.", "positive", ("usability", "praise")),
        ("Où peut-on trouver le rapport SOC 2 ?", "neutral", ("security",)),
    ),
    "es": (
        ("Hola, la sincronización con el CRM falla desde ayer.", "negative", ("integrations",)),
        (
            "Muy contentos con el servicio, ¡gracias por la ayuda tan rápida!",
            "positive",
            ("support_experience", "praise"),
        ),
        (
            "¿Podrían enviarnos el informe de seguridad para nuestro equipo legal?",
            "neutral",
            ("security",),
        ),
        ("La nueva interfaz es mucho más fácil de usar, buen trabajo.", "positive", ("usability",)),
        ("El precio ha subido demasiado para lo que ofrece.", "negative", ("billing",)),
        ("¿Cuándo es la fecha de renovación de nuestro contrato?", "neutral", ("renewal",)),
    ),
}

PII_LINES: tuple[str, ...] = (
    "You can reach me directly on {phone}.",
    "Please reply to {email} rather than the shared inbox.",
    "My mobile is {phone} if a call is easier.",
    "Also cc {email} on replies please.",
    "Call me at {phone} any time before 5pm.",
)
CARD_LINES: tuple[str, ...] = (
    "We tried paying with card {card} (exp 09/28) and it was declined.",
    "Can you charge the remaining balance to {card}? Expiry 11/27.",
    "the card is {card} if you need it",
)
TEST_CARDS: tuple[str, ...] = (
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "5555 5555 5555 4444",
    "4012888888881881",
    "3782 822463 10005",
)

OUTCOME_NOTES: dict[str, tuple[str, ...]] = {
    "churned": (
        "Did not renew; moved to {competitor}.",
        "Notice given 60 days before renewal; cited reliability and price.",
        "Churned after budget review; tooling consolidated.",
    ),
    "churned_surprise": ("Acquired by a larger group; tooling consolidated under the parent.",),
    "renewed": (
        "Renewed flat for 12 months.",
        "Renewed, same seat count.",
        "Renewed after service credit was agreed.",
        "Renewed at a small discount, multi-year discussed.",
    ),
    "renewed_risky": (
        "Renewed at reduced seat count after escalation.",
        "Renewed for 12 months with a service credit; still flagged at risk.",
    ),
    "expanded": (
        "Expanded by {seats} seats and added {module}.",
        "Upgraded tier and added {seats} seats for a new team.",
        "Expanded mid-term; rolled out to the {team}.",
    ),
}

FIRST_NAMES: tuple[str, ...] = (
    "Jordan",
    "Aisha",
    "Mateo",
    "Hannah",
    "Wei",
    "Olivia",
    "Tunde",
    "Sofia",
    "Liam",
    "Grace",
    "Ravi",
    "Chloe",
    "Marcus",
    "Yuki",
    "Fatima",
    "Noah",
    "Elif",
    "Daniel",
    "Amara",
    "Ethan",
    "Leah",
    "Kwame",
    "Isabel",
    "Owen",
    "Nadia",
    "Caleb",
    "Mira",
    "Samuel",
    "Zoe",
    "Arjun",
)
LAST_NAMES: tuple[str, ...] = (
    "Lee",
    "Okonkwo",
    "Garcia",
    "Whitfield",
    "Chen",
    "Patel",
    "Adeyemi",
    "Rossi",
    "Murphy",
    "Kim",
    "Haddad",
    "Novak",
    "Brennan",
    "Sato",
    "Iqbal",
    "Fischer",
    "Demir",
    "Walsh",
    "Mensah",
    "Lindgren",
    "Carter",
    "Osei",
    "Moreno",
    "Hughes",
    "Petrov",
    "Quinn",
)
LOCAL_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "de": (("Lena", "Jonas", "Katrin", "Felix"), ("Hoffmann", "Becker", "Krüger", "Wagner")),
    "fr": (("Camille", "Julien", "Élodie", "Hugo"), ("Lefèvre", "Moreau", "Girard", "Bonnet")),
    "es": (("Lucía", "Javier", "Carmen", "Diego"), ("Navarro", "Ortega", "Romero", "Castillo")),
}
TITLES: tuple[str, ...] = (
    "Ops Lead",
    "Head of Support",
    "VP Operations",
    "Customer Success Lead",
    "IT Administrator",
    "Finance Manager",
    "Support Team Lead",
    "Director of CX",
    "Systems Analyst",
    "COO",
)
CSM_NAMES: tuple[str, ...] = (
    "Priya Natarajan",
    "Marcus Oyelaran",
    "Elena Sokolova",
    "Tomás Herrera",
    "Hannah Whitcombe",
)
AGENT_NAMES: tuple[str, ...] = (
    "Sam Okafor",
    "Dana Whitley",
    "Kofi Mensah",
    "Inés Caballero",
    "Luca Bianchi",
    "Mei Tanaka",
    "Ravi Kulkarni",
    "Freya Lindqvist",
)
HANDLE_PARTS: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("ops", "cx", "data", "support", "saas", "the", "just", "real", "not", "team"),
    ("nerd", "queen", "guy", "lead", "dan", "jess", "mo", "kat", "sam", "builder", "fan"),
)

# Mixed-aspect frames: the label follows the clause after the turn.
MIXED_NEGATIVE: tuple[str, ...] = (
    "{Pos} but {neg}.",
    "Honestly {pos}, however {neg}.",
    "{Pos}. That said, {neg}.",
    "{Pos}, it's just that {neg}.",
)
MIXED_POSITIVE: tuple[str, ...] = (
    "Sure, {neg} at times, but overall {pos}.",
    "{Neg} now and then, but {pos} and that matters more to us.",
)
SOCIAL_FRAMES: tuple[str, ...] = (
    "{text} @{brand}",
    "@{brand} {text}",
    "{text} cc @{brand} {tags}",
    "hey @{brand}, {text}",
    "{Text} #{brand} {tags}",
    "@{brand} {text} {emoji}",
)
AGENT_FOLLOWUP: dict[str, tuple[str, ...]] = {
    "positive": (
        "Great to hear! I'll mark this ticket as solved.",
        "Glad that sorted it. Closing this one out, but just reply to reopen.",
    ),
    "neutral": ("Sounds good, I'll keep this open until you've had a chance to test.",),
    "negative": (
        "I'm sorry this is still happening. I've escalated to our engineering lead "
        "and will update you by end of day.",
        "Apologies for the repeated back-and-forth. A senior engineer now owns this.",
    ),
}
