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
            Payload::TrainingEnrolled(_) | Payload::NationalTrainingEnrolled(_) => {
                "training_enrolled"
            }
            Payload::TrainingCompleted(_) | Payload::NationalTrainingCompleted(_) => {
                "training_completed"
            }
            Payload::TrainingAbandoned(_) | Payload::NationalTrainingAbandoned(_) => {
                "training_abandoned"
            }
            Payload::TrainingRecordForwarded(_) => "training_record_forwarded",
            Payload::ExamSessionCreated(_) => "exam_session_created",
            Payload::DeliberationClosed(_) => "deliberation_closed",
            Payload::ResultsPublished(_) | Payload::NationalResultsPublished(_) => {
                "results_published"
            }
            Payload::AppealDecided(_) => "appeal_decided",
            Payload::NationalExamResult(_) => "exam_result",
            Payload::CertificateIssued(_) | Payload::NationalCertificateIssued(_) => {
                "certificate_issued"
            }
            Payload::CertificateRevoked(_) | Payload::NationalCertificateRevoked(_) => {
                "certificate_revoked"
            }
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
            | Payload::CampaignUpdated(_)
            | Payload::TrainingEnrolled(_)
            | Payload::TrainingCompleted(_)
            | Payload::TrainingAbandoned(_)
            | Payload::ExamSessionCreated(_)
            | Payload::DeliberationClosed(_)
            | Payload::ResultsPublished(_)
            | Payload::AppealDecided(_)
            | Payload::CertificateIssued(_)
            | Payload::CertificateRevoked(_) => Stream::Internal,
            Payload::TrainingRecordForwarded(_) => Stream::Regional,
            Payload::NationalCampaignOpened(_)
            | Payload::NationalCandidacyRegistered(_)
            | Payload::NationalCandidacyDecided(_)
            | Payload::NationalCandidacyWithdrawn(_)
            | Payload::NationalAdmittedListPublished(_)
            | Payload::NationalTrainingEnrolled(_)
            | Payload::NationalTrainingCompleted(_)
            | Payload::NationalTrainingAbandoned(_)
            | Payload::NationalExamResult(_)
            | Payload::NationalResultsPublished(_)
            | Payload::NationalCertificateIssued(_)
            | Payload::NationalCertificateRevoked(_) => Stream::National,
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
        }
    }
}
