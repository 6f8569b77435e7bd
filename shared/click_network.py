"""The click-prediction network: the scoring half of the model contract.

One configurable architecture covers the classic click-through-rate models, so that a model
artifact is weights plus a small JSON spec, and the service that loads it needs no code from the
team that trained it (`infra_mle` never imports `model_mle`):

    linear            a weight per categorical value and per number: logistic regression
    fm                factorization machine: <v_i, v_j> for every pair of fields, which is how a
                      user x item taste or an hour x item effect can be learned
    cross_layers = L  DCN-v2 cross network: x_{l+1} = x_0 * (W_l x_l + b_l) + x_l
    hidden = (64, 32) a deep network over the field embeddings and the numbers (an MLP)
    taste             the user x item taste the way a streaming catalogue is built: user bias +
                      item bias + <user, category + item offset> + hour x category + device x
                      category + a weight per number. An item's vector starts from its public
                      category's, so an item with few impressions borrows from its category;
                      `item_categories` sizes the category table, and the `item_category`
                      buffer (saved with the weights) maps each item to its category.
    examination       position as a multiplicative term, p = exam(position) x sigmoid(logit):
                      a lower slot is seen less, whatever its content, so the slot scales the
                      probability instead of adding to the taste. Ranking at one slot is then
                      ranking by the taste alone.
    draws = S         the taste part as S draws from a posterior (`model_mle/posterior.py`):
                      the user, item and category tables hold S copies one after the other
                      (draw d of row r at d x rows + r), and the click probability once the
                      slot is seen is the average of sigmoid(logit) over the S draws.

The logit is the sum of the parts that are switched on; with `examination` the network returns
the logit of exam x sigmoid(that sum), so every caller keeps reading p = sigmoid(output).
`model_mle/models.py` names the combinations it compares (logreg, mlp, fm, dcn, joint). The
joint model is `taste` + `examination` trained on both surfaces at once with one user table
(`model_mle/joint.py`); each surface's network is exported with its own copy of that table.

    model = ClickNetwork(ClickNetworkSpec(vocab_sizes=(6001, 301, 25, 5, 4), n_dense=17, fm=True))
    logits = model(categorical, dense)      # (n,) from int64 (n, 5) and float32 (n, 17)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from shared.encoding import CATEGORICAL_FIELDS

USER, ITEM, HOUR, DEVICE, POSITION = (
    CATEGORICAL_FIELDS.index(f) for f in ("user_id", "item_id", "hour", "device", "position")
)


def pairwise_interactions(v: torch.Tensor) -> torch.Tensor:
    """The factorization machine's second-order term: for each row, the sum over every pair of
    fields i < j of the inner product <v_i, v_j> of their embeddings, from `v` of shape
    (rows, fields, k). A pair's weight is not a free parameter (there would be one per pair of
    values, most never seen together) but the product of two vectors, so a user x item taste is
    learned from each one's other pairs."""
    # sum over pairs <v_i, v_j> = ((sum v)^2 - sum v^2) / 2, in O(fields x k)
    return 0.5 * (v.sum(1).pow(2) - v.pow(2).sum(1)).sum(1)


# The taste part's tables that hold one copy per posterior draw (`ClickNetworkSpec.draws`): what
# belongs to a user, an item or a category. The context crosses and the number weights do not.
DRAWN_TABLES = ("user_taste", "user_bias", "item_taste", "item_bias", "category_taste")


def average_probability(logits: torch.Tensor) -> torch.Tensor:
    """The logit of the mean of sigmoid(logits) over the last dimension (n, draws) -> (n,):
    log(mean p) - log(mean (1 - p)), computed in log space so that no draw underflows."""
    if logits.shape[-1] == 1:
        return logits[..., 0]
    log_p, log_q = nn.functional.logsigmoid(logits), nn.functional.logsigmoid(-logits)
    return torch.logsumexp(log_p, -1) - torch.logsumexp(log_q, -1)


@dataclass(frozen=True)
class ClickNetworkSpec:
    vocab_sizes: tuple[int, ...]  # per categorical field, index 0 being "unknown"
    n_dense: int
    embedding_dim: int = 8  # the simulator's hidden tastes have 8 dimensions
    linear: bool = True
    fm: bool = False
    cross_layers: int = 0
    hidden: tuple[int, ...] = ()
    dropout: float = 0.0
    taste: bool = False
    item_categories: int = 0  # the taste part's category vocabulary, index 0 being "unknown"
    examination: bool = False
    draws: int = 1  # the taste part's posterior draws, averaged in probability (1: one fit)

    def __post_init__(self) -> None:
        if not (self.linear or self.fm or self.cross_layers or self.hidden or self.taste):
            raise ValueError(
                "a click network needs at least one part: linear, fm, cross, hidden or taste"
            )
        if self.taste and self.item_categories < 1:
            raise ValueError("the taste part needs item_categories (1 when all are unknown)")
        if self.draws < 1 or (self.draws > 1 and not self.taste):
            raise ValueError(f"draws must be 1, or more for the taste part, got {self.draws}")
        if not self.vocab_sizes or min(self.vocab_sizes) < 1:
            raise ValueError(f"every field needs a vocabulary, got {self.vocab_sizes}")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ClickNetworkSpec:
        data = dict(data)
        data["vocab_sizes"] = tuple(data["vocab_sizes"])
        data["hidden"] = tuple(data["hidden"])
        return cls(**data)


class ClickNetwork(nn.Module):
    def __init__(self, spec: ClickNetworkSpec) -> None:
        super().__init__()
        self.spec = spec
        offsets = torch.tensor([0, *spec.vocab_sizes[:-1]]).cumsum(0)
        self.register_buffer("offsets", offsets, persistent=False)  # field index -> table row
        total, n_fields = sum(spec.vocab_sizes), len(spec.vocab_sizes)
        self.bias = nn.Parameter(torch.zeros(1))
        if spec.linear:
            self.weights = nn.Embedding(total, 1)
            nn.init.zeros_(self.weights.weight)
            self.dense_weights = nn.Linear(spec.n_dense, 1, bias=False)
        wide = n_fields * spec.embedding_dim + spec.n_dense  # the stacked input x_0
        if spec.fm or spec.cross_layers or spec.hidden:
            self.embedding = nn.Embedding(total, spec.embedding_dim)
            nn.init.normal_(self.embedding.weight, std=0.01)  # small: pairs start near zero
        self.cross = nn.ModuleList(nn.Linear(wide, wide) for _ in range(spec.cross_layers))
        layers: list[nn.Module] = []
        width = wide
        for size in spec.hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(spec.dropout)]
            width = size
        self.deep = nn.Sequential(*layers)
        head_width = (wide if spec.cross_layers else 0) + (width if spec.hidden else 0)
        self.head = nn.Linear(head_width, 1) if head_width else None
        if spec.taste:
            self._build_taste(spec)
        if spec.examination:
            # exam = sigmoid(raw): in (0, 1) for every slot, near 1 at the start
            self.examination = nn.Parameter(torch.full((spec.vocab_sizes[POSITION],), 3.0))

    def _build_taste(self, spec: ClickNetworkSpec) -> None:
        k, n_categories = spec.embedding_dim, spec.item_categories
        users, items, draws = spec.vocab_sizes[USER], spec.vocab_sizes[ITEM], spec.draws
        self.register_buffer("item_category", torch.zeros(items, dtype=torch.long))
        self.user_taste = nn.Embedding(draws * users, k)
        self.user_bias = nn.Embedding(draws * users, 1)
        self.item_taste = nn.Embedding(draws * items, k)  # the item's offset from its category
        self.item_bias = nn.Embedding(draws * items, 1)
        self.category_taste = nn.Embedding(draws * n_categories, k)
        self.hour_category = nn.Embedding(spec.vocab_sizes[HOUR], n_categories)
        self.device_category = nn.Embedding(spec.vocab_sizes[DEVICE], n_categories)
        self.taste_dense = nn.Linear(spec.n_dense, 1, bias=False)
        for table in self.taste_tables():
            nn.init.normal_(table.weight, std=0.01)  # small: every term starts near zero

    def taste_tables(self) -> list[nn.Embedding]:
        """The taste part's tables, which its prior (an L2 penalty on the whole tables, see
        `model_mle.joint`) keeps near zero unless the clicks say otherwise."""
        return [
            self.user_taste, self.user_bias, self.item_taste, self.item_bias,
            self.category_taste, self.hour_category, self.device_category,
        ]  # fmt: skip

    def taste_logit(self, categorical: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        """The taste part's logit of each row, (n, draws): one column per posterior draw."""
        user, item = categorical[:, USER], categorical[:, ITEM]
        # draw d of a row r of a table sits at d x rows + r
        draw = torch.arange(self.spec.draws, device=categorical.device)[None, :]
        category = self.item_category[item][:, None] + draw * self.spec.item_categories
        user = user[:, None] + draw * self.spec.vocab_sizes[USER]
        item = item[:, None] + draw * self.spec.vocab_sizes[ITEM]
        item_vector = self.category_taste(category) + self.item_taste(item)
        return (
            (self.user_taste(user) * item_vector).sum(2)
            + self.user_bias(user)[..., 0]
            + self.item_bias(item)[..., 0]
            + self.context_logit(categorical, dense)[:, None]
        )

    def context_logit(self, categorical: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        """The taste part's terms that belong to no user and no item: hour x category, device x
        category and a weight per number."""
        of_category = self.item_category[categorical[:, ITEM]][:, None]
        crosses = self.hour_category(categorical[:, HOUR]).gather(1, of_category)
        crosses = crosses + self.device_category(categorical[:, DEVICE]).gather(1, of_category)
        return crosses[:, 0] + self.taste_dense(dense)[:, 0]

    def forward(self, categorical: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        logit = self.relevance(categorical, dense)
        if not self.spec.examination:
            return logit
        # log p = log exam + log sigmoid(logit); returned as logit(p) = log p - log(1 - p)
        exam = nn.functional.logsigmoid(self.examination[categorical[:, POSITION]])
        log_p = (exam + nn.functional.logsigmoid(logit)).clamp(max=-1e-6)
        return log_p - torch.log(-torch.expm1(log_p))

    def relevance(self, categorical: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        """The logit of a click once the slot has been seen (the whole logit without
        `examination`)."""
        logit = self.logit_without_taste(categorical, dense)
        if not self.spec.taste:
            return logit
        return average_probability(logit[:, None] + self.taste_logit(categorical, dense))

    def logit_without_taste(self, categorical: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        """Every switched-on part but the taste part."""
        rows = categorical + self.offsets
        logit = self.bias.expand(rows.shape[0])
        if self.spec.linear:
            logit = logit + self.weights(rows).sum((1, 2)) + self.dense_weights(dense)[:, 0]
        if not hasattr(self, "embedding"):
            return logit
        v = self.embedding(rows)  # (n, fields, k)
        if self.spec.fm:
            logit = logit + pairwise_interactions(v)
        if self.head is None:
            return logit
        x0 = torch.cat([v.flatten(1), dense], dim=1)
        parts = []
        if self.spec.cross_layers:
            x = x0
            for layer in self.cross:
                x = x0 * layer(x) + x
            parts.append(x)
        if self.spec.hidden:
            parts.append(self.deep(x0))
        return logit + self.head(torch.cat(parts, dim=1))[:, 0]

    def penalty(self, categorical: torch.Tensor) -> torch.Tensor:
        """Mean squared size of the embeddings a batch touched: L2 regularisation that leaves
        the rows of users and items not in the batch alone."""
        rows = categorical + self.offsets
        total = torch.zeros((), device=categorical.device)
        if hasattr(self, "embedding"):
            total = total + self.embedding(rows).pow(2).sum() / len(rows)
        if self.spec.linear:
            total = total + self.weights(rows).pow(2).sum() / len(rows)
        return total
