"""Per movie and scene type segment counts and seconds, kept by a trigger on library_segment.

The library list filters and sorts by these ("at least 3 kissing scenes", "most scenes"); aggregating 200,000
segments on every request took over 100 ms, reading this table takes about one.
"""

import django.db.models.deletion
from django.db import migrations, models


STATS_TRIGGER = """
CREATE FUNCTION library_segment_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE library_moviescenestats
           SET segment_count = segment_count - 1, scene_seconds = scene_seconds - (OLD.end_s - OLD.start_s)
         WHERE movie_id = OLD.movie_id AND scene_type_id = OLD.scene_type_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO library_moviescenestats (movie_id, scene_type_id, segment_count, scene_seconds)
        VALUES (NEW.movie_id, NEW.scene_type_id, 1, NEW.end_s - NEW.start_s)
        ON CONFLICT (movie_id, scene_type_id) DO UPDATE
           SET segment_count = library_moviescenestats.segment_count + 1,
               scene_seconds = library_moviescenestats.scene_seconds + EXCLUDED.scene_seconds;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER segment_stats AFTER INSERT OR DELETE OR UPDATE OF start_s, end_s, movie_id, scene_type_id
    ON library_segment FOR EACH ROW EXECUTE FUNCTION library_segment_stats();
INSERT INTO library_moviescenestats (movie_id, scene_type_id, segment_count, scene_seconds)
    SELECT movie_id, scene_type_id, count(*), sum(end_s - start_s) FROM library_segment GROUP BY 1, 2;
"""
DROP_STATS_TRIGGER = "DROP TRIGGER segment_stats ON library_segment; DROP FUNCTION library_segment_stats();"




def title_trigram_index(apps, schema_editor):
    """Title search (icontains -> UPPER(title) LIKE '%word%') through a trigram index, where pg_trgm exists.

    The embedded server (pgserver) ships no contrib extensions; there the search scans titles, still correct.
    """
    with schema_editor.connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cur.fetchone() is None:
            return
        cur.execute("SAVEPOINT trgm")
        try:
            cur.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception:  # noqa: BLE001 - no right to create extensions: search still works, only slower
            cur.execute("ROLLBACK TO SAVEPOINT trgm")
            return
        cur.execute(
            "CREATE INDEX IF NOT EXISTS movie_title_trigram ON library_movie USING gin (UPPER(title::text) gin_trgm_ops)"
        )
        # Statistics on the indexed expression, so the planner knows how many titles a word matches.
        cur.execute("ANALYZE library_movie")


def drop_title_trigram_index(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS movie_title_trigram")


class Migration(migrations.Migration):

    dependencies = [
        ('library', '0004_analysis_stage_longer'),
    ]

    operations = [
        migrations.CreateModel(
            name='MovieSceneStats',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('segment_count', models.IntegerField(default=0)),
                ('scene_seconds', models.FloatField(default=0.0)),
                ('movie', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='scene_stats', to='library.movie')),
                ('scene_type', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='library.scenetype')),
            ],
            options={
                'indexes': [models.Index(fields=['scene_type', 'segment_count'], name='library_mov_scene_t_18a7d7_idx')],
                'constraints': [models.UniqueConstraint(fields=('movie', 'scene_type'), name='one_stats_row_per_movie_and_scene_type')],
            },
        ),
        migrations.RunSQL(STATS_TRIGGER, DROP_STATS_TRIGGER),
        migrations.RunPython(title_trigram_index, drop_title_trigram_index),
        migrations.AddIndex(
            model_name='movie',
            index=models.Index(fields=['-created_at', '-id'], name='movie_newest_first'),
        ),
    ]
