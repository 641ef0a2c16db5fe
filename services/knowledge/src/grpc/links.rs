//! `ArticleLinkService`: which cases an article helped solve, and which
//! articles a case used. Staff link and read them; the case must exist in
//! the case service.

use docket_kit::{auth::caller, clients::CaseClients, error::FieldViolations, page};
use docket_proto::{
    case::v1 as cpb,
    knowledge::v1::{self as pb, article_link_service_server::ArticleLinkService},
};
use tonic::{Code, Request, Response, Status};

use super::{actor, articles::require_editor};
use crate::{
    domain::{ArticleId, articles::State},
    records::entities::article_case_link,
    store::{CaseCursor, Lookup, Store},
};

pub struct ArticleLinkApi {
    store: Store,
    clients: CaseClients,
}

impl ArticleLinkApi {
    pub fn new(store: Store, clients: CaseClients) -> Self {
        Self { store, clients }
    }
}

fn wire(link: article_case_link::Model) -> pb::ArticleCaseLink {
    pb::ArticleCaseLink {
        article_id: link.article_id,
        case_id: link.case_id,
        linked_by: link.linked_by,
        create_time: Some(docket_kit::time::to_proto(link.created_at)),
    }
}

fn require_staff(caller: &docket_kit::auth::Caller) -> Result<(), Status> {
    if caller.is_staff() { Ok(()) } else { Err(Status::permission_denied("links between articles and cases are for staff")) }
}

#[tonic::async_trait]
impl ArticleLinkService for ArticleLinkApi {
    async fn link_article_to_case(
        &self,
        request: Request<pb::LinkArticleToCaseRequest>,
    ) -> Result<Response<pb::ArticleCaseLink>, Status> {
        let caller = caller(&request)?;
        require_editor(&caller)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let article_id: ArticleId = violations.id("article_id", &request.article_id);
        let case_id = violations.id_text("case_id", &request.case_id);
        violations.into_result()?;
        let stored = self.store.find_article(&Lookup::Id(article_id)).await?;
        if stored.article.state == State::Archived.name() {
            return Err(Status::failed_precondition("the article is archived"));
        }
        let lookup = cpb::GetCaseRequest { lookup: Some(cpb::get_case_request::Lookup::Id(case_id.clone())) };
        match self.clients.cases.clone().get_case(lookup).await {
            Ok(_) => {}
            Err(status) if status.code() == Code::NotFound => {
                return Err(Status::not_found(format!("no case {case_id}")));
            }
            Err(status) => {
                tracing::warn!(code = ?status.code(), message = %status.message(), "case service unavailable");
                return Err(Status::unavailable("the case service is unavailable; retry later"));
            }
        }
        let link = self.store.link_case(&stored.article, &case_id, &actor(&caller, "")).await?;
        Ok(Response::new(wire(link)))
    }

    async fn list_case_articles(
        &self,
        request: Request<pb::ListCaseArticlesRequest>,
    ) -> Result<Response<pb::ListArticleCaseLinksResponse>, Status> {
        let caller = caller(&request)?;
        require_staff(&caller)?;
        let mut violations = FieldViolations::new();
        let case_id = violations.id_text("case_id", &request.get_ref().case_id);
        violations.into_result()?;
        let links = self.store.case_links(&case_id).await?.into_iter().map(wire).collect();
        Ok(Response::new(pb::ListArticleCaseLinksResponse { links, next_page_token: String::new() }))
    }

    async fn list_article_cases(
        &self,
        request: Request<pb::ListArticleCasesRequest>,
    ) -> Result<Response<pb::ListArticleCaseLinksResponse>, Status> {
        let caller = caller(&request)?;
        require_staff(&caller)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let article_id = violations.id_text("article_id", &request.article_id);
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<CaseCursor> = page::decode(&mut violations, &request.page_token);
        violations.into_result()?;
        let (rows, next) = self.store.article_links(&article_id, after, limit).await?;
        Ok(Response::new(pb::ListArticleCaseLinksResponse {
            links: rows.into_iter().map(wire).collect(),
            next_page_token: next.map(|cursor| page::encode(&cursor)).unwrap_or_default(),
        }))
    }
}
