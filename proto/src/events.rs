//! Names and streams of event payloads, next to the contract so a new payload cannot be added
//! without saying where it goes (the match is exhaustive).

use crate::v1::{Stream, event_envelope::Payload};

impl Payload {
    /// The event name: last word of the routing key, `type` of the envelope.
    pub fn name(&self) -> &'static str {
        match self {
            Payload::CampaignOpened(_) => "campaign_opened",
            Payload::CandidacySubmitted(_) => "candidacy_submitted",
            Payload::CandidacyValidated(_) => "candidacy_validated",
            Payload::CandidacyRejected(_) => "candidacy_rejected",
            Payload::CandidacyWithdrawn(_) => "candidacy_withdrawn",
            Payload::AdmittedListPublished(_) => "admitted_list_published",
            Payload::CampaignUpdated(_) => "campaign_updated",
            Payload::NationalCampaignOpened(_) => "campaign_opened",
            Payload::NationalCandidacyRegistered(_) => "candidacy_registered",
            Payload::NationalCandidacyDecided(_) => "candidacy_decided",
            Payload::NationalCandidacyWithdrawn(_) => "candidacy_withdrawn",
            Payload::NationalAdmittedListPublished(_) => "admitted_list_published",
        }
    }

    /// INTERNAL payloads may name people; NATIONAL ones are pseudonymous facts.
    pub fn stream(&self) -> Stream {
        match self {
            Payload::CampaignOpened(_)
            | Payload::CandidacySubmitted(_)
            | Payload::CandidacyValidated(_)
            | Payload::CandidacyRejected(_)
            | Payload::CandidacyWithdrawn(_)
            | Payload::AdmittedListPublished(_)
            | Payload::CampaignUpdated(_) => Stream::Internal,
            Payload::NationalCampaignOpened(_)
            | Payload::NationalCandidacyRegistered(_)
            | Payload::NationalCandidacyDecided(_)
            | Payload::NationalCandidacyWithdrawn(_)
            | Payload::NationalAdmittedListPublished(_) => Stream::National,
        }
    }
}

impl Stream {
    /// The RabbitMQ topic exchange of the stream.
    pub fn exchange(self) -> &'static str {
        match self {
            Stream::Internal | Stream::Unspecified => "cplds.events",
            Stream::National => "cplds.national",
        }
    }
}
