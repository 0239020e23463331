"""The inspections unit of work on PostgreSQL: the repositories of `adapters/` on one
transaction's connection, and one outbox per CloudEvents source the service publishes under."""

from __future__ import annotations

from runtime import db
from runtime.attachments import AttachmentStore, PgAttachmentStore
from runtime.unit_of_work import Outbox, PgOutbox, PgUnitOfWork
from services.inspections.adapters.campaigns import PgCampaigns
from services.inspections.adapters.drafts import PgPatrolDrafts
from services.inspections.adapters.draws import PgDrawRosters, PgPatrolDraws
from services.inspections.adapters.facilities import PgFacilities
from services.inspections.adapters.public_photos import PgPublicPhotos
from services.inspections.adapters.rectifications import PgOrders, PgPatrols
from services.inspections.adapters.registry_tables import (
    PgActivities,
    PgInspections,
    PgProjects,
    PgTemplates,
)
from services.inspections.service import ports

SOURCE = "/wuye/inspections"
REGISTRY_SOURCE = "/wuye/inspections/registry"
CAMPAIGNS_SOURCE = "/wuye/inspections/campaigns"
DRAWS_SOURCE = "/wuye/inspections/draws"


class PgInspectionsUnitOfWork(PgUnitOfWork):
    # Typed as the ports: assigning an adapter checks that it fits its port.
    projects: ports.Projects
    templates: ports.Templates
    inspections: ports.Inspections
    activities: ports.Activities
    orders: ports.Orders
    patrols: ports.Patrols
    draws: ports.PatrolDraws
    rosters: ports.DrawRosters
    facilities: ports.Facilities
    campaigns: ports.Campaigns
    drafts: ports.PatrolDrafts
    attachments: AttachmentStore
    public_photos: ports.PublicPhotos
    registry_outbox: Outbox
    campaign_outbox: Outbox
    draws_outbox: Outbox

    def _bind(self, conn: db.Connection) -> None:
        self.projects = PgProjects(conn)
        self.templates = PgTemplates(conn)
        self.inspections = PgInspections(conn)
        self.activities = PgActivities(conn)
        self.orders = PgOrders(conn)
        self.patrols = PgPatrols(conn)
        self.draws = PgPatrolDraws(conn)
        self.rosters = PgDrawRosters(conn)
        self.facilities = PgFacilities(conn)
        self.campaigns = PgCampaigns(conn)
        self.drafts = PgPatrolDrafts(conn)
        self.attachments = PgAttachmentStore(conn)
        self.public_photos = PgPublicPhotos(conn)
        self.registry_outbox = PgOutbox(conn, REGISTRY_SOURCE)
        self.campaign_outbox = PgOutbox(conn, CAMPAIGNS_SOURCE)
        self.draws_outbox = PgOutbox(conn, DRAWS_SOURCE)
