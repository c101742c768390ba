"""The shop's admin site: Django's, plus the operator dashboard's pages, served behind its staff login."""

from django.contrib.admin import AdminSite


class ShopAdminSite(AdminSite):
    def get_urls(self):
        # Imported here, not at the top: the apps' admin modules register their models on this
        # very site as they are imported, so they can only be loaded once the site exists.
        from projections.dashboard import views as control_panel
        from queries.admin import sales

        return [*control_panel.urls(self), *sales.urls(self), *super().get_urls()]
