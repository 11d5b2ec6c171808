/*
 * lablib's one-class patch for the OpenLineage Spark listener 1.53.0 (Apache-2.0).
 *
 * Why: for a catalog table (saveAsTable, spark.table) the listener turns the table's location into
 * a dataset identifier (namespace "file", name = the DECODED path) and then back into a URI with
 * toLocation(), by gluing the two strings together and calling new URI(String). A path holding a
 * space ("/…/home 10b/warehouse/ch10.db/customers") is not a legal URI string, the listener logs
 * "URISyntaxException: Illegal character in path" and drops the dataset: the events carry no inputs,
 * no outputs and no column lineage. Here toLocation() builds the same URI with the multi-argument
 * constructor, which quotes what must be quoted (a space becomes %20); everything else keeps the
 * upstream behaviour (same extractors, same order).
 *
 * lablib compiles this file against the listener's jar and puts the result before it on the
 * driver's classpath (lablib/jvm/patches.py). Drop it when the pinned listener quotes paths itself.
 */
package io.openlineage.client.utils.filesystem;

import io.openlineage.client.utils.DatasetIdentifier;
import java.net.URI;
import java.net.URISyntaxException;

public class FilesystemDatasetUtils {
  private static final FilesystemDatasetExtractor[] extractors = {
    new LocalFilesystemDatasetExtractor(),
    new ObjectStorageDatasetExtractor("s3"),
    new ObjectStorageDatasetExtractor("gs"),
    new ObjectStorageDatasetExtractor("abfs", "abfss"),
    new ObjectStorageDatasetExtractor("wasb", "wasbs")
  };

  private static FilesystemDatasetExtractor getExtractor(URI location) {
    for (FilesystemDatasetExtractor extractor : extractors) {
      if (extractor.isDefinedAt(location)) {
        return extractor;
      }
    }
    return new GenericFilesystemDatasetExtractor();
  }

  public static DatasetIdentifier fromLocation(URI location) {
    return getExtractor(location).extract(location);
  }

  public static DatasetIdentifier fromLocationAndName(URI location, String rawName) {
    return getExtractor(location).extract(location, rawName);
  }

  public static URI toLocation(DatasetIdentifier identifier) {
    String namespace = identifier.getNamespace();
    if (!namespace.contains(":/")) {
      namespace = namespace + ":/";
    }
    String name = identifier.getName();
    String text =
        "/".equals(name)
            ? namespace
            : FilesystemUriSanitizer.removeLastSlash(namespace)
                + "/"
                + FilesystemUriSanitizer.removeFirstSlash(name);
    try {
      return new URI(text);
    } catch (URISyntaxException unquoted) {
      return quoted(text, unquoted);
    }
  }

  /** "file:/a b/c" or "s3://bucket/a b" as a URI whose path is quoted ("a%20b"). */
  private static URI quoted(String text, URISyntaxException unquoted) {
    int colon = text.indexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException(unquoted);
    }
    String scheme = text.substring(0, colon);
    String rest = text.substring(colon + 1);
    String authority = null;
    if (rest.startsWith("//")) {
      int slash = rest.indexOf('/', 2);
      authority = slash < 0 ? rest.substring(2) : rest.substring(2, slash);
      rest = slash < 0 ? "" : rest.substring(slash);
    }
    try {
      return new URI(scheme, authority, rest, null, null);
    } catch (URISyntaxException still) {
      throw new IllegalArgumentException(still);
    }
  }
}
