//! Names and streams of event payloads, next to the contract so a new payload cannot be added
//! without saying where it goes (the match is exhaustive).

use crate::v1::{Stream, event_envelope::Payload};

impl Payload {
    /// The event name: last word of the routing key, `type` of the envelope.
    pub fn name(&self) -> &'static str {
        use Payload::*;
        match self {
            CampaignOpened(_) | NationalCampaignOpened(_) => "campaign_opened",
            CandidacySubmitted(_) => "candidacy_submitted",
            CandidacyValidated(_) => "candidacy_validated",
            CandidacyRejected(_) => "candidacy_rejected",
            CandidacyWithdrawn(_) | NationalCandidacyWithdrawn(_) => "candidacy_withdrawn",
            AdmittedListPublished(_) | NationalAdmittedListPublished(_) => {
                "admitted_list_published"
            }
            CampaignUpdated(_) => "campaign_updated",
            NationalCandidacyRegistered(_) => "candidacy_registered",
            NationalCandidacyDecided(_) => "candidacy_decided",
            NationalCandidacyInadmissible(_) => "candidacy_inadmissible",
            TrainingEnrolled(_) | NationalTrainingEnrolled(_) => "training_enrolled",
            TrainingCompleted(_) | NationalTrainingCompleted(_) => "training_completed",
            TrainingAbandoned(_) | NationalTrainingAbandoned(_) => "training_abandoned",
            TrainingRecordForwarded(_) => "training_record_forwarded",
            ExamSessionCreated(_) => "exam_session_created",
            DeliberationClosed(_) => "deliberation_closed",
            ResultsPublished(_) | NationalResultsPublished(_) => "results_published",
            AppealDecided(_) => "appeal_decided",
            JuryRemarksPublished(_) => "jury_remarks_published",
            NationalExamResult(_) => "exam_result",
            NationalPastCandidate(_) => "past_candidate_imported",
            NationalJuryRemarks(_) => "jury_remarks_published",
            CertificateIssued(_) | NationalCertificateIssued(_) => "certificate_issued",
            CertificateRevoked(_) | NationalCertificateRevoked(_) => "certificate_revoked",
            NodeHeartbeat(_) => "heartbeat",
            ReplayRequested(_) => "replay_requested",
            FiguresApproved(_) => "figures_approved",
            MldsSurveySubmitted(_) => "mlds_survey_submitted",
        }
    }

    /// The one service allowed to produce this payload (the second word of its routing key):
    /// consumers refuse it from any other, whatever its signature.
    pub fn producer(&self) -> &'static str {
        use Payload::*;
        match self {
            CampaignOpened(_)
            | CandidacySubmitted(_)
            | CandidacyValidated(_)
            | CandidacyRejected(_)
            | CandidacyWithdrawn(_)
            | AdmittedListPublished(_)
            | CampaignUpdated(_)
            | NationalCampaignOpened(_)
            | NationalCandidacyRegistered(_)
            | NationalCandidacyDecided(_)
            | NationalCandidacyWithdrawn(_)
            | NationalAdmittedListPublished(_)
            | NationalCandidacyInadmissible(_) => "registration",
            TrainingEnrolled(_)
            | TrainingCompleted(_)
            | TrainingAbandoned(_)
            | NationalTrainingEnrolled(_)
            | NationalTrainingCompleted(_)
            | NationalTrainingAbandoned(_)
            | TrainingRecordForwarded(_) => "training",
            ExamSessionCreated(_)
            | DeliberationClosed(_)
            | ResultsPublished(_)
            | AppealDecided(_)
            | JuryRemarksPublished(_)
            | NationalExamResult(_)
            | NationalPastCandidate(_)
            | NationalJuryRemarks(_)
            | NationalResultsPublished(_) => "examination",
            CertificateIssued(_)
            | CertificateRevoked(_)
            | NationalCertificateIssued(_)
            | NationalCertificateRevoked(_) => "certification",
            FiguresApproved(_) | MldsSurveySubmitted(_) => "reporting",
            ReplayRequested(_) => "national",
            // Every relay announces its own stream.
            NodeHeartbeat(_) => "*",
        }
    }

    /// The one académie a payload is meant for, if any: the last word of its routing key, so
    /// that brokers, and the federation links between them, carry it to that académie only
    /// (a regional record names a person: the other académies of the région must not get it).
    pub fn addressee(&self) -> Option<&str> {
        match self {
            Payload::TrainingRecordForwarded(r) => Some(&r.home_academy),
            _ => None,
        }
    }

    /// INTERNAL payloads may name people; NATIONAL ones are pseudonymous facts; REGIONAL ones go
    /// to another académie of the région; CONTROL ones come from the national node.
    pub fn stream(&self) -> Stream {
        use Payload::*;
        match self {
            CampaignOpened(_)
            | CandidacySubmitted(_)
            | CandidacyValidated(_)
            | CandidacyRejected(_)
            | CandidacyWithdrawn(_)
            | AdmittedListPublished(_)
            | CampaignUpdated(_)
            | TrainingEnrolled(_)
            | TrainingCompleted(_)
            | TrainingAbandoned(_)
            | ExamSessionCreated(_)
            | DeliberationClosed(_)
            | ResultsPublished(_)
            | AppealDecided(_)
            | JuryRemarksPublished(_)
            | CertificateIssued(_)
            | CertificateRevoked(_) => Stream::Internal,
            NationalCampaignOpened(_)
            | NationalCandidacyRegistered(_)
            | NationalCandidacyDecided(_)
            | NationalCandidacyWithdrawn(_)
            | NationalAdmittedListPublished(_)
            | NationalCandidacyInadmissible(_)
            | NationalTrainingEnrolled(_)
            | NationalTrainingCompleted(_)
            | NationalTrainingAbandoned(_)
            | NationalExamResult(_)
            | NationalPastCandidate(_)
            | NationalJuryRemarks(_)
            | NationalResultsPublished(_)
            | NationalCertificateIssued(_)
            | NationalCertificateRevoked(_)
            | NodeHeartbeat(_)
            | FiguresApproved(_)
            | MldsSurveySubmitted(_) => Stream::National,
            TrainingRecordForwarded(_) => Stream::Regional,
            ReplayRequested(_) => Stream::Control,
        }
    }
}

impl Stream {
    /// The RabbitMQ topic exchange of the stream.
    pub fn exchange(self) -> &'static str {
        match self {
            Stream::Internal | Stream::Unspecified => "cplds.events",
            Stream::National => "cplds.national",
            Stream::Regional => "cplds.regional",
            Stream::Control => "cplds.control",
        }
    }
}

/// Every service that produces events, for key registries (`Payload::producer`).
pub const PRODUCERS: [&str; 6] = [
    "registration",
    "training",
    "examination",
    "certification",
    "reporting",
    "national",
];
