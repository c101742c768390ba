from django.contrib.admin.apps import AdminConfig


class ShopAdminConfig(AdminConfig):
    """django.contrib.admin with the shop's site (config.admin.ShopAdminSite) as admin.site."""

    default_site = "config.admin.ShopAdminSite"
