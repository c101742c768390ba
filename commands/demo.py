"""Demo data for a fresh install: a catalog, customers and their orders, made only through `dispatch`.

Never saves a write model directly: every product, customer and order comes from a command, run
as the user who would send it, so the event log, the read models and the e-mails see exactly what
a real client would have caused. Only the Django User rows are created here by hand.

With a history (`days`), each command is dispatched as happening at its moment in the past (the
handlers record that time); the commands are made in time order, so the log's `recorded_at` never
goes backwards along its positions, and nothing is rewritten afterwards.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Max
from django.utils import timezone

from commands.commands import (
    CancelOrder,
    ChangePrice,
    Command,
    DiscontinueProduct,
    OrderLineRequest,
    PayOrder,
    PlaceOrder,
    RegisterCustomer,
    RegisterProduct,
    RestockProduct,
    ShipOrder,
)
from commands.handlers import Recorded, dispatch
from commands.models import Customer, OrderStatus, Product, StoredEvent

DEMO_ADMIN_USERNAME = "admin"
DEMO_ADMIN_PASSWORD = "shopfront-admin"
DEMO_CUSTOMER_PASSWORD = "shopfront-customer"

# Called as progress(what, done, total), e.g. ("orders", 60, 120).
Progress = Callable[[str, int, int], None]


class DemoError(Exception):
    """The demo data cannot be made as asked."""


@dataclass(frozen=True)
class Category:
    name: str
    sku_prefix: str
    name_format: str  # with {maker}, {item} and {variant}
    makers: tuple[str, ...]
    items: tuple[tuple[str, int, int], ...]  # (item, lowest price, highest price)
    variants: tuple[str, ...]
    blurbs: tuple[str, ...]


# fmt: off
CATALOG: tuple[Category, ...] = (
    Category(
        "kitchen", "KIT", "{maker} {item}, {variant}", ("Lindqvist", "Hearth & Co.", "Maison Bleu"),
        (("Chef's Knife", 24, 129), ("Cast-Iron Skillet", 29, 89), ("French Press", 19, 69),
         ("Cutting Board", 15, 59), ("Mixing Bowls (set of 3)", 14, 49), ("Stand Mixer", 199, 499)),
        ("graphite", "sage", "cream", "copper"),
        ("Built for daily use and easy to clean.", "Dishwasher safe.", "A favourite of home cooks."),
    ),
    Category(
        "books", "BOO", "{item} ({variant})", ("M. Okafor", "J. Lindgren", "R. Sato", "E. Moreau"),
        (("The Art of Fermentation", 19, 39), ("A Field Guide to Mushrooms", 14, 29),
         ("Bread Every Day", 12, 32), ("The Quiet Garden", 9, 24), ("Maps of the Sea", 18, 45),
         ("Stars for Beginners", 9, 22), ("The Long Walk Home", 8, 19)),
        ("paperback", "hardcover"),
        ("Shortlisted for the readers' prize.", "Illustrated throughout.", "A new edition, revised."),
    ),
    Category(
        "garden", "GRD", "{maker} {item}, {variant}", ("Greenfinch", "Oakleaf", "Terra"),
        (("Pruning Shears", 14, 49), ("Watering Can", 12, 39), ("Raised Bed Kit", 59, 189),
         ("Hose Reel", 29, 99), ("Seed Starter Tray", 6, 19), ("Compost Bin", 39, 129)),
        ("green", "terracotta", "charcoal", "galvanised"),
        ("Weatherproof.", "Made from recycled materials.", "Two-year guarantee."),
    ),
    Category(
        "toys", "TOY", "{maker} {item}, {variant}", ("Brightblock", "Kite & Kettle", "Little Atlas"),
        (("Wooden Train Set", 29, 89), ("1000-Piece Puzzle", 12, 29), ("Building Blocks", 19, 79),
         ("Plush Fox", 12, 35), ("Marble Run", 25, 69), ("Strategy Board Game", 24, 59)),
        ("ages 3+", "ages 6+", "ages 8+", "family edition"),
        ("Safety tested.", "No batteries needed.", "Hours of screen-free fun."),
    ),
    Category(
        "electronics", "ELE", "{maker} {item}, {variant}", ("Voltaic", "Northbeam", "Pixelmoor"),
        (("Wireless Earbuds", 39, 179), ("USB-C Charger 65 W", 19, 59), ("Bluetooth Speaker", 29, 149),
         ("Mechanical Keyboard", 59, 189), ("E-Reader", 89, 249), ("Webcam 1080p", 35, 99)),
        ("black", "white", "midnight blue"),
        ("Two-year warranty.", "Ships with a USB-C cable.", "Firmware updates over the air."),
    ),
    Category(
        "outdoor", "OUT", "{maker} {item}, {variant}", ("Ridgeway", "Fjellstad", "Cairn"),
        (("Daypack 25 L", 39, 129), ("Trekking Poles", 29, 99), ("Insulated Bottle 750 ml", 19, 45),
         ("Two-Person Tent", 129, 399), ("Headlamp", 15, 59), ("Sleeping Bag", 59, 249)),
        ("moss", "rust", "slate", "sand"),
        ("Tested in the mountains.", "Lightweight and packable.", "Repairable for life."),
    ),
)

FIRST_NAMES = (
    "Amara", "Jonas", "Priya", "Mateo", "Yuki", "Lena", "Omar", "Chloé", "Kofi", "Ingrid",
    "Rafael", "Mei", "Tomás", "Aisha", "Nils", "Sofia", "Dmitri", "Zanele", "Hugo", "Leila",
)
LAST_NAMES = (
    "Okafor", "Berg", "Raman", "Silva", "Tanaka", "Fischer", "Haddad", "Martin", "Mensah", "Larsen",
    "Costa", "Chen", "Herrera", "Khan", "Nyström", "Rossi", "Volkov", "Dlamini", "Moreau", "Nasser",
)
CANCEL_REASONS = ("Changed my mind.", "Found it cheaper elsewhere.", "Ordered by mistake.", "")
# fmt: on

# How the demo orders end up; every outcome appears once there are enough orders.
ORDER_OUTCOMES = (
    (OrderStatus.CANCELLED, 15),
    (OrderStatus.PLACED, 20),
    (OrderStatus.PAID, 25),
    (OrderStatus.SHIPPED, 40),
)
LOW_STOCK = 3  # restock a product once an order leaves it with fewer units than this
MAX_HISTORY_DAYS = 3660  # ten years: a demo needs no more, and dates stay far from datetime's limits
# Along a history, where between an order and the next one its later commands happen (fractions of the gap).
PAID_AFTER, SHIPPED_AFTER, CANCELLED_AFTER, RESTOCKED_AFTER = 0.2, 0.5, 0.7, 0.9


@dataclass(frozen=True)
class DemoAdmin:
    user: AbstractBaseUser
    password: str | None  # None: an existing admin kept a password of its own
    created: bool


@dataclass
class DemoData:
    """What one seed_demo run made, and how to sign in to look at it."""

    seed: int
    admin: DemoAdmin
    customer_password: str
    product_ids: list[uuid.UUID] = field(default_factory=list)
    customer_usernames: list[str] = field(default_factory=list)
    customer_ids: list[uuid.UUID] = field(default_factory=list)
    order_ids: list[uuid.UUID] = field(default_factory=list)
    order_statuses: Counter[str] = field(default_factory=Counter)
    commands: int = 0  # commands dispatched, each one transaction


def seed_demo(
    *,
    products: int = 40,
    customers: int = 20,
    orders: int = 120,
    days: int = 0,
    seed: int | None = None,
    progress: Progress | None = None,
) -> DemoData:
    """Register `products`, `customers` and `orders` through the command handlers; return what was made.

    The same `seed` makes the same names, prices and orders. Running it again adds more data:
    SKUs and usernames already taken are skipped. Orders use this run's products and customers,
    or the existing ones when this run registers none.

    With `days`, the shop gets a history: the catalog and customers are registered at the start of
    the first of the last `days` days (today included) and the orders are spread over them, at least
    one a day when there are as many orders as days. Without, everything happens now.
    """
    if min(products, customers, orders, days) < 0:
        raise DemoError("Counts must not be negative.")
    if days > MAX_HISTORY_DAYS:
        raise DemoError(f"A history may go back at most {MAX_HISTORY_DAYS} days.")
    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    rng = random.Random(seed)
    clock = _DemoClock(days=days, rng=rng)
    clock.check_the_log_is_older()
    admin = ensure_demo_admin()
    demo = _DemoRun(
        rng=rng,
        clock=clock,
        admin=admin.user,
        progress=progress or (lambda what, done, total: None),
        correlation_id=f"seed_demo:{uuid.uuid4().hex[:12]}",
    )
    data = DemoData(seed=seed, admin=admin, customer_password=DEMO_CUSTOMER_PASSWORD)
    data.product_ids = demo.register_catalog(count=products)
    data.customer_usernames, data.customer_ids = demo.register_customers(count=customers)
    if orders:
        data.order_ids, data.order_statuses = demo.place_orders(
            count=orders, product_ids=data.product_ids, customer_ids=data.customer_ids
        )
        clock.advance_to(clock.end)
        demo.discontinue_some(product_ids=data.product_ids)
    data.commands = demo.commands
    return data


def ensure_demo_admin(*, username: str = DEMO_ADMIN_USERNAME, password: str = DEMO_ADMIN_PASSWORD) -> DemoAdmin:
    """Return the demo superuser, created with `password` if missing.

    An existing user keeps its own password, and one that is not staff is refused rather than promoted.
    """
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        user = user_model.objects.create_superuser(
            username=username, email=f"{username}@example.com", password=password
        )
        return DemoAdmin(user=user, password=password, created=True)
    if not user.is_staff:
        raise DemoError(f"User {username!r} exists but is not staff, so it cannot manage the catalog.")
    return DemoAdmin(user=user, password=password if user.check_password(password) else None, created=False)


class _DemoClock:
    """When the demo's commands happen: now, or, with `days`, along a history that ends now.

    Along a history the clock only moves forward, and each command is dispatched at the clock's
    time when it is made, so the times follow the order in which the log records the commands.
    """

    def __init__(self, *, days: int, rng: random.Random):
        self.rng = rng
        self.end = timezone.now()
        self.days = [(self.end - timedelta(days=back)).date() for back in reversed(range(days))]
        self.current = _midnight(self.days[0]) if self.days else None

    def now(self) -> datetime | None:
        """The time to dispatch the next command at; None without a history (the handlers take now)."""
        return self.current

    def advance_to(self, moment: datetime | None) -> None:
        """Move on to `moment`; one before the clock's time (or None) leaves it where it is."""
        if self.current is not None and moment is not None:
            self.current = max(self.current, moment)

    def check_the_log_is_older(self) -> None:
        """Refuse a history that would be recorded before events already in the log."""
        if self.current is None:
            return
        newest = StoredEvent.objects.aggregate(newest=Max("recorded_at"))["newest"]
        if newest is not None and newest > self.current:
            raise DemoError(
                f"The event log has events from {newest:%Y-%m-%d %H:%M}, after the history's start "
                f"({self.current:%Y-%m-%d}): its events would be recorded before them. Seed a history "
                "into an empty shop, or leave out --days."
            )

    def order_times(self, count: int) -> list[datetime | None]:
        """`count` moments over the history, oldest first (all None without one).

        Every day gets an order while there are enough; the rest go more often to weekends and
        to later days, as for a shop that grows, so the sales charts have a shape.
        """
        if not self.days:
            return [None] * count
        if count >= len(self.days):
            weights = [_day_weight(day, number, len(self.days)) for number, day in enumerate(self.days)]
            per_day = Counter(self.days) + Counter(self.rng.choices(self.days, weights, k=count - len(self.days)))
        else:
            per_day = Counter(self.rng.sample(self.days, count))
        times = []
        for day in self.days:
            start = _midnight(day)
            seconds = (min(start + timedelta(days=1), self.end) - start).total_seconds()
            times += [start + timedelta(seconds=self.rng.uniform(0, seconds)) for _ in range(per_day[day])]
        return sorted(times)


class _DemoRun:
    """One run's random source, clock, actors and what it knows of stock and prices."""

    def __init__(self, *, rng: random.Random, clock: _DemoClock, admin, progress: Progress, correlation_id: str):
        self.rng = rng
        self.clock = clock
        self.admin = admin
        self.progress = progress
        self.correlation_id = correlation_id
        self.commands = 0
        self.stock: dict[uuid.UUID, int] = {}
        self.prices: dict[uuid.UUID, Decimal] = {}

    def dispatch(self, command_class: type[Command], actor, **fields) -> Recorded:
        self.commands += 1
        return dispatch(command_class(**fields, correlation_id=self.correlation_id), actor, at=self.clock.now())

    # --- Catalog ------------------------------------------------------------

    def register_catalog(self, *, count: int) -> list[uuid.UUID]:
        rng, skus = self.rng, _SkuAllocator()
        product_ids = []
        self.progress("products", 0, count)
        for number in range(count):
            category = CATALOG[number % len(CATALOG)]
            item, low, high = rng.choice(category.items)
            maker = rng.choice(category.makers)
            price = _price(rng, low, high)
            stock = rng.choice((rng.randint(3, 12), rng.randint(20, 80), rng.randint(80, 200)))
            recorded = self.dispatch(
                RegisterProduct,
                self.admin,
                sku=skus.next(category.sku_prefix),
                name=category.name_format.format(maker=maker, item=item, variant=rng.choice(category.variants)),
                description=f"{item} by {maker}. {rng.choice(category.blurbs)}",
                category=category.name,
                price=price,
                stock=stock,
            )
            product_ids.append(recorded.aggregate_id)
            self.stock[recorded.aggregate_id], self.prices[recorded.aggregate_id] = stock, price
            self.progress("products", number + 1, count)
        return product_ids

    def change_some_prices(self, *, product_ids: Sequence[uuid.UUID]) -> None:
        """Reprice about one product in ten, so that orders show prices from before and after."""
        for product_id in self.rng.sample(product_ids, k=len(product_ids) // 10):
            old = self.prices[product_id]
            new = (old * Decimal(self.rng.choice(("0.8", "0.9", "1.1", "1.25")))).quantize(Decimal("1"))
            new = max(new, Decimal(2)) - Decimal("0.01")
            if new != old:
                self.dispatch(ChangePrice, self.admin, product_id=product_id, new_price=new)
                self.prices[product_id] = new

    def discontinue_some(self, *, product_ids: Sequence[uuid.UUID]) -> None:
        """Discontinue about one product in twenty, after it has been ordered."""
        for product_id in self.rng.sample(product_ids, k=len(product_ids) // 20):
            self.dispatch(DiscontinueProduct, self.admin, product_id=product_id)

    # --- Customers ----------------------------------------------------------

    def register_customers(self, *, count: int) -> tuple[list[str], list[uuid.UUID]]:
        user_model = get_user_model()
        password = make_password(DEMO_CUSTOMER_PASSWORD)  # hashed once: it is slow on purpose
        usernames, customer_ids = [], []
        self.progress("customers", 0, count)
        for number in range(count):
            first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
            username = _unused_username(_ascii(f"{first}.{last}".lower()))
            user = user_model.objects.create(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@example.com",
                password=password,
                date_joined=self.clock.now() or timezone.now(),
            )
            # Customers register themselves, as they would through the API.
            recorded = self.dispatch(RegisterCustomer, user, user_id=user.pk, name=f"{first} {last}", email=user.email)
            usernames.append(username)
            customer_ids.append(recorded.aggregate_id)
            self.progress("customers", number + 1, count)
        return usernames, customer_ids

    # --- Orders -------------------------------------------------------------

    def place_orders(
        self, *, count: int, product_ids: list[uuid.UUID], customer_ids: list[uuid.UUID]
    ) -> tuple[list[uuid.UUID], Counter[str]]:
        product_ids = product_ids or self._existing_products()
        customers = self._customers(customer_ids)
        if not product_ids or not customers:
            raise DemoError("Orders need products and customers: register some first.")
        outcomes = _outcomes(count, self.rng)
        times = self.clock.order_times(count)
        order_ids: list[uuid.UUID] = []
        statuses: Counter[str] = Counter()
        self.progress("orders", 0, count)
        for number, outcome in enumerate(outcomes):
            if number == count // 2:
                self.change_some_prices(product_ids=product_ids)
            # The order's later commands (paying, shipping, ...) happen before the next order is placed.
            placed, next_placed = times[number], (times[number + 1] if number + 1 < count else self.clock.end)
            order_ids.append(
                self._order(self.rng.choice(customers), product_ids, outcome, _Gap(placed, next_placed, self.clock))
            )
            statuses[outcome] += 1
            self.progress("orders", number + 1, count)
        return order_ids, statuses

    def _order(self, customer: Customer, product_ids: list[uuid.UUID], outcome: str, gap: _Gap) -> uuid.UUID:
        rng, shopper = self.rng, customer.user
        gap.move_to(0)
        in_stock = [product_id for product_id in product_ids if self.stock[product_id] > 0]
        if not in_stock:
            raise DemoError("No product left in stock to order.")
        chosen = rng.sample(in_stock, k=min(len(in_stock), rng.choices((1, 2, 3, 4), (45, 30, 15, 10))[0]))
        quantities = {p: min(self.stock[p], rng.choices((1, 2, 3), (70, 20, 10))[0]) for p in chosen}
        lines = tuple(OrderLineRequest(product_id=p, quantity=q) for p, q in quantities.items())
        order_id = self.dispatch(PlaceOrder, shopper, customer_id=None, lines=lines).aggregate_id
        for product_id, quantity in quantities.items():
            self.stock[product_id] -= quantity

        if outcome in (OrderStatus.PAID, OrderStatus.SHIPPED) or (
            outcome == OrderStatus.CANCELLED and rng.random() < 0.5
        ):
            gap.move_to(PAID_AFTER)
            self.dispatch(PayOrder, shopper, order_id=order_id)
        if outcome == OrderStatus.SHIPPED:
            gap.move_to(SHIPPED_AFTER)
            self.dispatch(ShipOrder, self.admin, order_id=order_id)
        if outcome == OrderStatus.CANCELLED:
            gap.move_to(CANCELLED_AFTER)
            self.dispatch(CancelOrder, shopper, order_id=order_id, reason=rng.choice(CANCEL_REASONS))
            for product_id, quantity in quantities.items():
                self.stock[product_id] += quantity

        gap.move_to(RESTOCKED_AFTER)
        for product_id in quantities:
            if self.stock[product_id] < LOW_STOCK:
                quantity = rng.randint(20, 60)
                self.dispatch(RestockProduct, self.admin, product_id=product_id, quantity=quantity)
                self.stock[product_id] += quantity
        return order_id

    def _customers(self, customer_ids: list[uuid.UUID]) -> list[Customer]:
        """Return this run's customers in registration order, or else every existing customer."""
        customers = Customer.objects.select_related("user")
        if not customer_ids:
            return list(customers.order_by("user__username"))
        by_id = customers.in_bulk(customer_ids)
        return [by_id[customer_id] for customer_id in customer_ids]

    def _existing_products(self) -> list[uuid.UUID]:
        products = Product.objects.filter(discontinued=False).order_by("sku").values_list("pk", "stock", "price")
        for product_id, stock, price in products:
            self.stock[product_id], self.prices[product_id] = stock, price
        return [product_id for product_id, _, _ in products]


@dataclass(frozen=True)
class _Gap:
    """The time from an order's placing to the next order's, in which the order's own story happens."""

    start: datetime | None
    end: datetime
    clock: _DemoClock

    def move_to(self, fraction: float) -> None:
        """Move the clock `fraction` of the way through the gap (nothing without a history)."""
        if self.start is not None:
            self.clock.advance_to(self.start + (self.end - self.start) * fraction)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _day_weight(day: date, number: int, days: int) -> float:
    """How likely an extra order falls on `day`, the `number`th of `days`: weekends and later days more."""
    weekend = 1.5 if day.weekday() >= 5 else 1.0
    return weekend * (0.6 + 0.8 * number / max(days - 1, 1))


def _outcomes(count: int, rng: random.Random) -> list[str]:
    """Return `count` order outcomes in the ORDER_OUTCOMES proportions, each at least once, shuffled."""
    outcomes = [status for status, percent in ORDER_OUTCOMES for _ in range(max(1, count * percent // 100))]
    outcomes += [OrderStatus.SHIPPED] * (count - len(outcomes))
    rng.shuffle(outcomes)
    return [str(status) for status in outcomes[:count]]


def _price(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low, high)) + Decimal(rng.choice(("0.99", "0.49", "0.95", "0.00")))


class _SkuAllocator:
    """Hands out SKUs like KIT-0007, skipping those already in the catalog."""

    def __init__(self):
        self.taken: dict[str, set[str]] = {}
        self.next_number: Counter[str] = Counter()

    def next(self, prefix: str) -> str:
        if prefix not in self.taken:
            self.taken[prefix] = set(Product.objects.filter(sku__startswith=f"{prefix}-").values_list("sku", flat=True))
        while True:
            self.next_number[prefix] += 1
            sku = f"{prefix}-{self.next_number[prefix]:04d}"
            if sku not in self.taken[prefix]:
                self.taken[prefix].add(sku)
                return sku


def _unused_username(base: str) -> str:
    taken = set(get_user_model().objects.filter(username__startswith=base).values_list("username", flat=True))
    if base not in taken:
        return base
    suffix = 2
    while f"{base}{suffix}" in taken:
        suffix += 1
    return f"{base}{suffix}"


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
