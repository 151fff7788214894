"""Embeddings and model versions name the digest of their backbone weights; the `published` backbone set."""

from django.db import migrations, models

CHOICES = [("paper", "Paper"), ("offline", "Offline"), ("published", "Published")]
DIGEST_REGEX = r"^[0-9a-f]{64}$"
# detector.builtin_digest("paper" / "offline") as this migration was written (SHA-256 over the pinned SHA-256 of the
# sets' weight files), copied here because a migration must not import live code that may change after it.
STANDARD_DIGESTS = {
    "paper": "c7d9d92d53323b5fb85091fd230dd5f7d7096b45f0e6b95d665ec0013afaf002",
    "offline": "f3a84771830fe6ab09a7dc0317e16daec639a2f5e1fa636b721e09e566471c79",
}


def fill_digests(apps, schema_editor):
    # Rows so far were made with the paper or offline set, whose weights are fixed by the detector's checksums.
    for model_name in ("MovieEmbedding", "ModelVersion"):
        rows = apps.get_model("library", model_name).objects
        for backbone_set, digest in STANDARD_DIGESTS.items():
            rows.filter(backbone_set=backbone_set).update(backbone_digest=digest)


class Migration(migrations.Migration):

    dependencies = [
        ("library", "0008_segment_ordering_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="backbone_digest",
            field=models.CharField(
                default="", max_length=64,
                help_text="SHA-256 naming the backbone weights whose embeddings this model scores.",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="movieembedding",
            name="backbone_digest",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(fill_digests, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="modelversion", name="backbone_set", field=models.CharField(choices=CHOICES, max_length=16),
        ),
        migrations.AlterField(
            model_name="movieembedding", name="backbone_set", field=models.CharField(choices=CHOICES, max_length=16),
        ),
        migrations.AlterField(
            model_name="analysis", name="backbone_set",
            field=models.CharField(blank=True, choices=CHOICES, max_length=16),
        ),
        migrations.RemoveConstraint(model_name="movieembedding", name="one_embedding_per_movie_and_backbone"),
        migrations.RemoveConstraint(model_name="modelversion", name="modelversion_backbone_valid"),
        migrations.AddConstraint(
            model_name="modelversion",
            constraint=models.CheckConstraint(
                condition=models.Q(("backbone_set__in", ["paper", "offline", "published"])),
                name="modelversion_backbone_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="modelversion",
            constraint=models.CheckConstraint(
                condition=models.Q(("backbone_digest__regex", DIGEST_REGEX)), name="modelversion_backbone_digest_hex"
            ),
        ),
        migrations.AddConstraint(
            model_name="movieembedding",
            constraint=models.UniqueConstraint(
                fields=("movie", "backbone_set", "backbone_digest"), name="one_embedding_per_movie_and_backbones"
            ),
        ),
        migrations.AddConstraint(
            model_name="movieembedding",
            constraint=models.CheckConstraint(
                condition=models.Q(("backbone_digest__regex", DIGEST_REGEX)), name="embedding_backbone_digest_hex"
            ),
        ),
        migrations.AddConstraint(
            model_name="movieembedding",
            constraint=models.CheckConstraint(
                condition=models.Q(("backbone_set__in", ["paper", "offline", "published"])),
                name="embedding_backbone_valid",
            ),
        ),
    ]
