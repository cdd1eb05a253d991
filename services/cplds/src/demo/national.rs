//! The national side of the demo: each académie reports, the ministry reads the figures.

use std::fmt::Write as _;

use cplds_proto::v1::{
    self as pb, national_statistics_service_client::NationalStatisticsServiceClient,
    reporting_service_client::ReportingServiceClient,
};
use std::time::Duration;

use cplds_runtime::{
    auth::Role,
    poll::{self, Check},
};

use tonic::transport::Channel;

use super::OTHERS;
use crate::sandbox::{LocalNode, authed};

/// Each académie sends its MLDS survey and approves its figures.
pub(super) async fn report_to_ministry(node: &LocalNode, year: i32) -> anyhow::Result<()> {
    let mut client = ReportingServiceClient::new(node.channel().await?);
    let recteur = node.token(
        &format!("recteur@ac-{}.fr", node.node.node),
        &[Role::Recteur],
    )?;
    let seed = node.node.node.code().len() as u32;
    let (men, women) = (62 + seed, 57 + 2 * seed);
    let headcount = [
        (pb::Sex::Male, "16-17", 40 + seed),
        (pb::Sex::Male, "18-20", 22),
        (pb::Sex::Female, "16-17", 35 + seed),
        (pb::Sex::Female, "18-20", 18 + seed),
        (pb::Sex::Female, "21-25", 4),
    ]
    .into_iter()
    .map(|(sex, band, n)| pb::MldsHeadcount {
        sex: sex as i32,
        age_band: band.into(),
        young_people: n,
    })
    .collect();
    // Some followed two actions: the actions add up to more than the headcount.
    let actions = [
        ("remobilisation", pb::Sex::Male, men),
        ("pafi", pb::Sex::Male, 20),
        ("remobilisation", pb::Sex::Female, women - 10),
        ("return_to_training", pb::Sex::Female, 18),
        ("training_obligation", pb::Sex::Female, 12),
    ]
    .into_iter()
    .map(|(kind, sex, n)| pb::MldsActionCount {
        action_type: kind.into(),
        sex: sex as i32,
        young_people: n,
    })
    .collect();
    let outcomes = [
        ("school", pb::Sex::Male, men - 31),
        ("apprenticeship", pb::Sex::Male, 22),
        ("employment", pb::Sex::Male, 9),
        ("vocational_training", pb::Sex::Female, women - 4),
        ("no_solution", pb::Sex::Female, 4),
    ]
    .into_iter()
    .map(|(outcome, sex, n)| pb::MldsOutcomeCount {
        outcome: outcome.into(),
        sex: sex as i32,
        young_people: n,
    })
    .collect();
    client
        .submit_mlds_survey(authed(
            pb::SubmitMldsSurveyRequest {
                year,
                headcount,
                actions,
                outcomes,
                ..Default::default()
            },
            &recteur,
        ))
        .await?;
    client
        .approve_figures(authed(
            pb::ApproveFiguresRequest {
                year,
                remarks: "Session de démonstration : candidats bien préparés à l'étude de cas."
                    .into(),
            },
            &recteur,
        ))
        .await?;
    Ok(())
}

/// Waits until the national node has applied everything every académie sent, then prints the
/// consolidated figures.
pub(super) async fn national_report(
    national: &LocalNode,
    year: i32,
    expected_registrations: i64,
) -> anyhow::Result<String> {
    let mut stats = NationalStatisticsServiceClient::new(national.channel().await?);
    let ministry = national.token("dgesco@education.gouv.fr", &[Role::Ministry])?;
    let s = converged_figures(&mut stats, &ministry, year, expected_registrations).await?;
    let survey = stats
        .get_mlds_survey(authed(
            pb::GetMldsSurveyRequest { year, scope: None },
            &ministry,
        ))
        .await?
        .into_inner();
    Ok(format_report(year, s, &survey))
}

/// The national figures once the national node has applied every fact of every académie, their
/// approvals included (30 s at most).
async fn converged_figures(
    stats: &mut NationalStatisticsServiceClient<Channel>,
    ministry: &str,
    year: i32,
    expected_registrations: i64,
) -> anyhow::Result<pb::Statistics> {
    let (deadline, every) = (Duration::from_secs(30), Duration::from_millis(100));
    poll::until(deadline, every, async || {
        let s = stats
            .get_statistics(authed(
                pb::GetStatisticsRequest {
                    year,
                    breakdown: vec![pb::Dimension::Academy as i32],
                    ..Default::default()
                },
                ministry,
            ))
            .await?
            .into_inner();
        let c = stats
            .get_completeness(authed(pb::GetCompletenessRequest::default(), ministry))
            .await?
            .into_inner();
        let converged = s
            .totals
            .as_ref()
            .and_then(|t| t.registrations)
            .is_some_and(|r| r.value == expected_registrations)
            && c.sources
                .iter()
                .all(|x| x.gaps.is_empty() && x.applied_sequence == x.highest_known_sequence)
            // Every académie's approval (its last fact) has arrived.
            && s.academies.len() == 1 + OTHERS.len()
            && s.academies.iter().all(|a| a.approved);

        Ok(match converged {
            true => Check::Done(s),
            false => Check::Waiting("the national figures have not converged".into()),
        })
    })
    .await
}

/// The figures per académie and in total, as the demo prints them.
fn format_report(year: i32, s: pb::Statistics, survey: &pb::MldsSurvey) -> String {
    let v = |c: Option<pb::Count>| c.map_or(0, |c| c.value);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nNational figures {year} (national node, pseudonymous facts only)"
    );
    let _ = writeln!(
        out,
        "  {:<10} {:>10} {:>8} {:>9} {:>9} {:>8} {:>9} {:>6} {:>10} {:>9} {:>9}",
        "académie",
        "registered",
        "invalid",
        "withdrawn",
        "to sit",
        "admitted",
        "not adm.",
        "rate",
        "certified",
        "approved",
        "complete"
    );
    let row = |name: &str, f: &pb::Figures, approved: &str, complete: &str| {
        let rate = f
            .admitted_rate
            .filter(|r| !r.undefined)
            .map_or("—".to_owned(), |r| format!("{:.0} %", r.percent));
        format!(
            "  {:<10} {:>10} {:>8} {:>9} {:>9} {:>8} {:>9} {:>6} {:>10} {:>9} {:>9}\n",
            name,
            v(f.registrations),
            v(f.invalidated),
            v(f.withdrawn),
            v(f.admitted_to_sit),
            v(f.admitted),
            v(f.not_admitted),
            rate,
            v(f.certificates_issued),
            approved,
            complete
        )
    };
    for c in &s.cells {
        let f = c.figures.clone().unwrap_or_default();
        let academy = c.key.first().map(|k| k.value.clone()).unwrap_or_default();
        let st = s.academies.iter().find(|a| a.academy == academy);
        let yes = |b: bool| if b { "yes" } else { "no" };
        out.push_str(&row(
            &academy,
            &f,
            yes(st.is_some_and(|a| a.approved)),
            yes(st.is_some_and(|a| a.up_to_date)),
        ));
    }
    let t = s.totals.unwrap_or_default();
    out.push_str(&row("total", &t, "", ""));
    let _ = writeln!(
        out,
        "  figures final: {}",
        if s.r#final {
            "yes (every académie up to date and approved)"
        } else {
            "no"
        }
    );
    let _ = writeln!(
        out,
        "  MLDS survey: {} young people accompanied in {} académies ({} have not sent theirs), \
         {} actions followed",
        survey.young_people,
        30 - survey.missing.len(),
        survey.missing.len(),
        survey.actions.iter().map(|a| a.young_people).sum::<u32>()
    );
    out
}
